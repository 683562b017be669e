#!/usr/bin/env node
/**
 * `aigate-agent`: the endpoint daemon and the employee's CLI (commands/program.ts). The shipped
 * bin always runs with the production hooks: the real clock and no fault points. The crash and
 * clock tests run a separate test-only entry (test/support/agent-test-cli.ts) instead, so no
 * environment variable or flag can make this agent, which runs as root, kill itself mid-step or
 * trust a false local clock.
 */
import { PRODUCTION_HOOKS } from './commands/hooks.js';
import { runAgentCli } from './commands/program.js';

await runAgentCli(process.argv.slice(2), PRODUCTION_HOOKS);
