/**
 * Fault injection for the crash tests: AIGATE_AGENT_FAULT names a ledger point
 * (`<apply|restore|repair|undo>:<step>:<before|after>`, or `<kind>:commit:before`, optionally
 * `#N` for the N-th time the point is reached) and the agent kills itself with SIGKILL there,
 * exactly as a power cut or an OOM kill would stop it. Read only by the CLI.
 */
export type FaultPoint = (point: string) => void;

export const NO_FAULTS: FaultPoint = () => undefined;

export function faultInjector(spec: string | undefined): FaultPoint {
  if (!spec) return NO_FAULTS;
  const match = /^([a-z-]+:[a-z-]+:[a-z]+)(?:#(\d+))?$/.exec(spec.trim());
  if (!match)
    throw new Error(
      `AIGATE_AGENT_FAULT must look like apply:move-aside:before (optionally #N), got ${JSON.stringify(spec)}`,
    );
  const point = match[1]!;
  const nth = Number(match[2] ?? '1');
  let seen = 0;
  return (reached) => {
    if (reached !== point || ++seen !== nth) return;
    process.stderr.write(`aigate-agent: fault injection: killing myself at ${point}#${nth}\n`);
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL is delivered at once; block until it lands so no further step runs.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
  };
}
