/**
 * The agent run by a user for their own tools (not root: README, "without root"): what it locks
 * (a quarantined folder, a kept original: mode 000, still the user's) it must be able to give
 * back its mode, though it cannot open it any more. Runs the built steps (dist/) as a real
 * unprivileged account (CI runs as root); found by a helper running enforce tests as a user.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { employee } from './employee.js';
import { tempDir } from './helpers.js';
import { isRoot } from './trees.js';

const DIST = fileURLToPath(new URL('../../dist/agent/enforce/', import.meta.url));

// As the user: capture facts, lock (mode 000), unlock (the recorded mode back), for a folder and a file.
const SCRIPT = `
const [steps, facts] = await Promise.all([import(process.argv[1] + 'steps.js'), import(process.argv[1] + 'fs-facts.js')]);
const home = process.argv[2];
const env = { isRoot: false, guard: { platform: 'linux', homes: [home], stateDir: home + '/state', systemPrefixes: false } };
const out = {};
for (const name of ['.pkg.aigate-quarantine', '.claude.aigate-orig']) {
  const path = home + '/' + name;
  const original = await facts.captureFacts(path);
  await steps.doStep({ op: 'lock', path, original }, env);
  const { statSync } = await import('node:fs');
  const locked = statSync(path).mode & 0o7777;
  await steps.undoStep({ op: 'lock', path, original }, env);
  out[name] = [locked, statSync(path).mode & 0o7777];
}
console.log(JSON.stringify(out));
`;

describe.runIf(isRoot && process.platform === 'linux')('locks made by an agent running as the user', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir('aigate-as-user-');
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it('are undone: the folder and the file get their modes back', () => {
    const user = employee('aigt-own-agent');
    chmodSync(dir.path, 0o755);
    const home = join(dir.path, 'home');
    mkdirSync(join(home, '.pkg.aigate-quarantine/lib'), { recursive: true, mode: 0o750 });
    chmodSync(join(home, '.pkg.aigate-quarantine'), 0o750);
    writeFileSync(join(home, '.claude.aigate-orig'), '#!/bin/sh\n', { mode: 0o751 });
    chmodSync(join(home, '.claude.aigate-orig'), 0o751);
    for (const path of [
      home,
      join(home, '.pkg.aigate-quarantine'),
      join(home, '.pkg.aigate-quarantine/lib'),
      join(home, '.claude.aigate-orig'),
    ])
      chownSync(path, user.uid, user.gid);
    const ran = user.run(process.execPath, ['--input-type=module', '-e', SCRIPT, DIST, home], {});
    expect(ran.stderr).toBe('');
    expect(JSON.parse(ran.stdout)).toEqual({ '.pkg.aigate-quarantine': [0, 0o750], '.claude.aigate-orig': [0, 0o751] });
    expect(lstatSync(join(home, '.pkg.aigate-quarantine')).uid).toBe(user.uid);
  });
});
