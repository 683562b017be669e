/**
 * The sentinel's view of a process's own paths (agent/sentinel/proc.ts): a path resolved under
 * another process's root never leaves that root (absolute link targets and `..` stay inside), and
 * the image key (agent/host/proc-fs.ts) is unchanged by `process.title` and changed by an exec.
 * Real folders and links, real child processes; no root needed.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { parseProcStat } from '../../../agent/host/proc-fs.js';
import { processScript, readProcess, resolveInRoot } from '../../../agent/sentinel/proc.js';

const root = mkdtempSync(join(tmpdir(), 'aigate-proc-view-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('resolveInRoot', () => {
  // <root>/home/u/cc/cli.js, plus links a user could plant.
  mkdirSync(join(root, 'home/u/cc'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'home/u/cc/cli.js'), '// cli');
  writeFileSync(join(root, 'etc/passwd'), 'inside');
  symlinkSync('/home/u/cc', join(root, 'home/u/abs')); // absolute: means <root>/home/u/cc
  symlinkSync('../../etc', join(root, 'home/u/rel'));
  symlinkSync('/etc', join(root, 'home/u/out')); // the sentinel's /etc if the kernel followed it
  symlinkSync('loop2', join(root, 'home/u/loop1'));
  symlinkSync('loop1', join(root, 'home/u/loop2'));

  it('follows links by hand, absolute targets from the given root', () => {
    expect(resolveInRoot(root, '/home/u/abs/cli.js')).toBe(`${root}/home/u/cc/cli.js`);
    expect(resolveInRoot(root, '/home/u/rel/passwd')).toBe(`${root}/etc/passwd`);
    expect(resolveInRoot(root, '/home/u/out/passwd')).toBe(`${root}/etc/passwd`);
  });

  it('never goes above the root with `..`', () => {
    expect(resolveInRoot(root, '/../../../../etc/passwd')).toBe(`${root}/etc/passwd`);
    expect(resolveInRoot(root, '/home/u/../../../../etc/passwd')).toBe(`${root}/etc/passwd`);
  });

  it('gives null for a missing file or a link loop', () => {
    expect(resolveInRoot(root, '/home/u/nothing.js')).toBeNull();
    expect(resolveInRoot(root, '/home/u/loop1/x')).toBeNull();
  });
});

describe('processScript and the image key (this machine, Linux)', () => {
  const linux = process.platform === 'linux';

  it.runIf(linux)('reads `/dev/fd/N` as the process own descriptor, a plain path as usual', async () => {
    const script = join(root, 'home/u/cc/cli.js');
    writeFileSync(script, 'setTimeout(() => {}, 60000);');
    const open = openSync(script, 'r');
    const child = spawn(process.execPath, ['/dev/fd/3'], { stdio: ['ignore', 'ignore', 'ignore', open] });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      let info = readProcess(child.pid!);
      for (let i = 0; i < 100 && info?.argv[1] !== '/dev/fd/3'; i++) {
        await new Promise((r) => setTimeout(r, 20));
        info = readProcess(child.pid!);
      }
      expect(info?.argv[1]).toBe('/dev/fd/3');
      expect(processScript(info!)).toBe(script);
      expect(processScript({ ...info!, argv: [process.execPath, script] })).toBeUndefined();
    } finally {
      child.kill('SIGKILL');
      closeSync(open);
    }
  });

  it.runIf(linux && process.getuid?.() === 0)(
    'keeps the image key through process.title and changes it on exec',
    async () => {
      // Says 'a', then sets its title when told and says 'b'.
      const child = spawn(
        process.execPath,
        [
          '-e',
          `process.stdout.write('a\\n'); process.stdin.once('data', () => { process.title = 'claude'; process.stdout.write('b\\n'); });`,
        ],
        { stdio: ['pipe', 'pipe', 'ignore'] },
      );
      const lines: string[] = [];
      child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
      const waitLine = async (line: string) => {
        for (let i = 0; i < 500 && !lines.includes(line); i++) await new Promise((r) => setTimeout(r, 10));
        expect(lines).toContain(line);
      };
      try {
        await waitLine('a');
        const before = readProcess(child.pid!)!;
        expect(before.imageKey).toMatch(/^\d+-\d+:\d+:\d+$/);
        child.stdin!.write('x');
        await waitLine('b');
        const titled = readProcess(child.pid!)!;
        expect(titled.argv[0]).toBe('claude');
        expect(titled.imageKey).toBe(before.imageKey);
      } finally {
        child.kill('SIGKILL');
      }
      // An exec: a new image of the same program has another key.
      const execd = spawn('sh', ['-c', `read x; exec ${process.execPath} -e "setTimeout(() => {}, 60000)"`], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      try {
        await new Promise((r) => setTimeout(r, 200));
        const shell = readProcess(execd.pid!)!;
        execd.stdin!.write('go\n');
        let after = readProcess(execd.pid!);
        for (let i = 0; i < 200 && after?.argv[0] !== process.execPath; i++) {
          await new Promise((r) => setTimeout(r, 10));
          after = readProcess(execd.pid!);
        }
        expect(after?.startTicks).toBe(shell.startTicks);
        expect(after?.imageKey).not.toBe(shell.imageKey);
      } finally {
        execd.kill('SIGKILL');
      }
    },
  );

  it('parses the image key from stat fields 48 and 51, null when hidden (0)', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    const text = (f: string[]) => `123 (a) b) ${f.join(' ')}`;
    expect(parseProcStat(text(fields))?.imageKey).toBe('48-51');
    fields[45] = '0';
    expect(parseProcStat(text(fields))?.imageKey).toBeNull();
  });
});
