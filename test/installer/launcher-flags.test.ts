/**
 * The node flags the agent runs with (a small young generation, --expose-gc for the daemon's
 * collection after each scan: agent/inventory/memo.ts, and one V8 background thread) are the same in every way the agent is
 * started: the POSIX launcher (Linux systemd unit and macOS LaunchDaemon), the Windows command
 * launcher and the Windows service; bench:scan measures with them. And this node takes them.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

const installer = join(import.meta.dirname, '../../installer');
const read = (file: string) => readFileSync(join(installer, file), 'utf8');

/** The flags before the bundle's path on the line that starts it, as each file writes it. */
const starts: [string, () => string | undefined][] = [
  [
    'posix/aigate-agent',
    () => /^exec "\$node" (.*)"\$home\/lib\/aigate-agent\.mjs" "\$@"$/m.exec(read('posix/aigate-agent'))?.[1],
  ],
  [
    'windows/aigate-agent.cmd',
    () =>
      /^"%AIGATE_NODE%" (.*)"%AIGATE_HOME%\\lib\\aigate-agent\.mjs" %\*$/m.exec(read('windows/aigate-agent.cmd'))?.[1],
  ],
  [
    'windows/aigate-agent-service.xml',
    () =>
      /<arguments>(.*)"@PREFIX@\\current\\lib\\aigate-agent\.mjs" run/.exec(
        read('windows/aigate-agent-service.xml'),
      )?.[1],
  ],
];

describe('the node flags of the agent', () => {
  const flags = starts.map(([file, flagsOf]) => ({ file, flags: flagsOf()?.trim().split(/\s+/) }));

  it('are the same in every launcher and the Windows service', () => {
    const posix = flags[0]!.flags;
    expect(posix).toEqual(['--max-semi-space-size=2', '--expose-gc', '--v8-pool-size=1']);
    for (const { file, flags: own } of flags) expect({ file, flags: own }).toEqual({ file, flags: posix });
  });

  it('are taken by this node: gc is there and the young generation is small', () => {
    const out = execFileSync(
      process.execPath,
      [
        ...flags[0]!.flags!,
        '-e',
        // Garbage with survivors, as a scan makes: V8 grows the young generation as far as it may.
        "const v8 = require('node:v8'); let keep = []; for (let i = 0; i < 3e6; i++) { const o = { i, s: 'x' + i }; if (i % 3 === 0) keep.push(o); if (keep.length > 2e5) keep = []; } process.stdout.write(JSON.stringify([typeof gc, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size]))",
      ],
      { encoding: 'utf8' },
    );
    const [gc, newSpace] = JSON.parse(out) as [string, number];
    expect(gc).toBe('function');
    // Two semi-spaces of at most 2 MiB (without the flag: 32 MiB here).
    expect(newSpace).toBeLessThanOrEqual(4 * 1024 * 1024);
  });
});
