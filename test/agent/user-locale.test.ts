/**
 * The locale of an employee's session as the root daemon reads it (agent/notices/user-locale.ts):
 * from their own process's environment, from ~/.config/locale.conf (never through a link out of
 * the home), from the system's locale.conf or /etc/default/locale.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { localeFromConf, processLocale, sessionLocale } from '../../agent/notices/user-locale.js';
import { type Employee, employee } from './employee.js';
import { isRoot } from './trees.js';

describe('locale.conf', () => {
  it.each([
    ['LANG=zh_CN.UTF-8\n', 'zh_CN.UTF-8'],
    ['# comment\nLANG="en_US.UTF-8"\nLC_MESSAGES=zh_CN.UTF-8\n', 'zh_CN.UTF-8'],
    ["LANG='zh_SG.UTF-8'\n", 'zh_SG.UTF-8'],
    ['LC_TIME=zh_CN.UTF-8\n', null],
    ['', null],
  ])('%j -> %s', (text, expected) => {
    expect(localeFromConf(text)).toBe(expected);
  });
});

let dir: string;
let user: Employee | null = null;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aigate-user-locale-'));
  await chmod(dir, 0o755);
  if (isRoot) user = employee('aigtnotice');
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe.runIf(isRoot && process.platform === 'linux')("an employee's session locale, read by root", () => {
  it("reads it from the employee's own process, and only theirs", async () => {
    const child = spawn('sleep', ['30'], {
      uid: user!.uid,
      gid: user!.gid,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'en_US.UTF-8', LC_MESSAGES: 'zh_CN.UTF-8' },
      stdio: 'ignore',
    });
    children.push(child);
    await new Promise((resolve) => child.once('spawn', resolve));
    expect(processLocale(child.pid!, user!.uid)).toBe('zh_CN.UTF-8');
    expect(processLocale(child.pid!, user!.uid + 1)).toBeNull();
    expect(sessionLocale(user!.uid)).toBe('zh_CN.UTF-8');
    child.kill('SIGKILL');
  });

  it('reads ~/.config/locale.conf inside the home, never through a link out of it, then the system files', async () => {
    const home = join(dir, 'home');
    const etc = join(dir, 'etc');
    const noProcesses = join(dir, 'proc');
    await mkdir(join(home, '.config'), { recursive: true });
    await mkdir(join(etc, 'default'), { recursive: true });
    await mkdir(noProcesses);
    await chown(home, user!.uid, user!.gid);
    await chown(join(home, '.config'), user!.uid, user!.gid);
    await writeFile(
      join(etc, 'passwd'),
      `root:x:0:0::/root:/bin/sh\naigtnotice:x:${user!.uid}:${user!.gid}::${home}:/bin/sh\n`,
    );
    const sources = { procDir: noProcesses, etcDir: etc };

    await writeFile(join(home, '.config', 'locale.conf'), 'LANG=zh_SG.UTF-8\n');
    await chown(join(home, '.config', 'locale.conf'), user!.uid, user!.gid);
    expect(sessionLocale(user!.uid, sources)).toBe('zh_SG.UTF-8');

    // A link to a file outside the home (here one that root wrote) is not followed.
    await rm(join(home, '.config', 'locale.conf'));
    await writeFile(join(dir, 'elsewhere.conf'), 'LANG=zh_CN.UTF-8\n');
    await symlink(join(dir, 'elsewhere.conf'), join(home, '.config', 'locale.conf'));
    await writeFile(join(etc, 'default', 'locale'), 'LANG="en_GB.UTF-8"\n');
    expect(sessionLocale(user!.uid, sources)).toBe('en_GB.UTF-8');

    // systemd's /etc/locale.conf before Debian's /etc/default/locale.
    await writeFile(join(etc, 'locale.conf'), 'LANG=zh_CN.UTF-8\n');
    expect(sessionLocale(user!.uid, sources)).toBe('zh_CN.UTF-8');

    await rm(join(etc, 'locale.conf'));
    await rm(join(etc, 'default', 'locale'));
    expect(sessionLocale(user!.uid, sources)).toBeNull();
  });
});
