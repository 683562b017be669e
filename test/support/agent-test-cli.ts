/**
 * The agent as the tests run it: the same command tree as the shipped bin (agent/cli.ts) with
 * two test hooks read from the environment, which the product never reads:
 *
 * - AIGATE_AGENT_FAULT: a ledger point (`<apply|restore|repair|undo>:<step>:<before|after>` or
 *   `<kind>:commit:before`, optionally `#N` for the N-th time it is reached) where the agent
 *   kills itself with SIGKILL, exactly as a power cut or an OOM kill would stop it;
 * - AIGATE_AGENT_TEST_CLOCK: the local clock starts at this instant (RFC 3339 or epoch ms) and
 *   runs on from there.
 *
 * Built into a self-contained bundle by test/support/agent-bin.ts.
 */
import { runAgentCli } from '../../agent/commands/program.js';
import type { FaultPoint } from '../../agent/enforce/fault.js';

const monotonicMs = () => Number(process.hrtime.bigint() / 1_000_000n);

function faultInjector(spec: string | undefined): FaultPoint {
  if (!spec) return () => undefined;
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

function testClock(text: string | undefined): () => number {
  if (!text) return Date.now;
  const start = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(start))
    throw new Error(
      `AIGATE_AGENT_TEST_CLOCK must be an RFC 3339 instant or epoch milliseconds, got ${JSON.stringify(text)}`,
    );
  const startedAt = monotonicMs();
  return () => start + (monotonicMs() - startedAt);
}

let hooks;
try {
  hooks = {
    fault: faultInjector(process.env.AIGATE_AGENT_FAULT),
    localClock: testClock(process.env.AIGATE_AGENT_TEST_CLOCK),
  };
} catch (error) {
  process.stderr.write(`aigate-agent (test build): ${(error as Error).message}\n`);
  process.exit(2);
}
await runAgentCli(process.argv.slice(2), hooks);
