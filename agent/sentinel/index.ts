/**
 * The sentinel: execution-time stop of blocked tools (Linux first). See sentinel.ts for the loop,
 * identify.ts for how a process is known (by content, like the inventory), stop.ts for the safety
 * checks before a signal, fingerprints.ts for renamed copies.
 */
export { Sentinel, type SentinelOptions, type SentinelStats } from './sentinel.js';
export { identifyProcess, owningPackage, scriptArgument, type IdentifyContext, type ProcessMatch } from './identify.js';
export { FingerprintStore, type Fingerprint } from './fingerprints.js';
export { stopMatched, showOnTerminal, type StopOutcome, type StopOptions } from './stop.js';
export { readProcess, listPids, type ProcessStart } from './proc.js';
export { createAgentSentinel, blockedLaunchEvent, type AgentSentinel, type AgentSentinelHooks } from './agent-hook.js';
