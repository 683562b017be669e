/**
 * Fault points: the enforcement engine calls `fault('<apply|restore|repair|undo>:<step>:<before|after>')`
 * (or `<kind>:commit:before`) at every ledger step. In the product the function does nothing
 * (NO_FAULTS); the crash tests' agent build (test/support/agent-test-cli.ts) passes one that
 * kills the process there, exactly as a power cut or an OOM kill would stop it.
 */
export type FaultPoint = (point: string) => void;

export const NO_FAULTS: FaultPoint = () => undefined;
