/**
 * Every test file gets its own Claude Code configuration folder (CLAUDE_CONFIG_DIR, which Claude
 * Code reads instead of ~/.claude.json and ~/.claude): real Claude Code releases the tests start
 * rewrite that file on every start, and runs from parallel test files sharing root's printed
 * "configuration file not found" warnings before their version (two CI failures).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'aigate-claude-config-'));
process.env.CLAUDE_CONFIG_DIR = dir;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
