/**
 * The sentinel: execution-time stop of blocked tools (Linux first). See sentinel.ts for the loop,
 * identify.ts for how a process is known (by content, like the inventory), stop.ts for the safety
 * checks before a signal, fingerprints.ts for renamed copies.
 */
export { type AgentSentinel, type AgentSentinelHooks } from './agent-hook.js';
export { type Fingerprint } from './fingerprints.js';
export { type IdentifyContext, type ProcessMatch } from './identify.js';
export { type ProcessStart } from './proc.js';
export { Sentinel, type SentinelOptions, type SentinelStats } from './sentinel.js';
export { type StopOptions, type StopOutcome } from './stop.js';
