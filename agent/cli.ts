#!/usr/bin/env node
/**
 * `aigate-agent`: the endpoint daemon and the employee's CLI. Each command lives in its own
 * module under commands/ and registers itself on the program.
 */
import { Command } from 'commander';
import { registerAgentCommands } from './commands/agent.js';
import { registerScan } from './commands/scan.js';

const program = new Command('aigate-agent').description('find developer AI tools on this machine and apply the company policy to them');
registerScan(program);
registerAgentCommands(program);

await program.parseAsync();
