/**
 * An unprivileged local account for tests of what an employee sees (notices, status), created
 * idempotently with useradd (tests run as root in CI), and a way to run a program as them with
 * exactly the environment given (plus PATH), as their own login would.
 */
import { spawnSync } from 'node:child_process';

export interface Employee {
  uid: number;
  gid: number;
  /** Runs `command args` as the account from `/`, with `env` and PATH only. */
  run(
    command: string,
    args: string[],
    env: Record<string, string>,
  ): { code: number | null; stdout: string; stderr: string };
}

export function employee(name: string): Employee {
  if (spawnSync('id', ['-u', name]).status !== 0) {
    const made = spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', name], { encoding: 'utf8' });
    // 9: the user exists already (another test file created it meanwhile).
    if (made.status !== 0 && made.status !== 9) throw new Error(`useradd ${name}: ${made.stderr}`);
  }
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
  return {
    uid,
    gid,
    run(command, args, env) {
      const result = spawnSync(command, args, {
        uid,
        gid,
        cwd: '/',
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
        timeout: 60_000,
      });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    },
  };
}
