/** Creating the state directory with the right modes (see paths.ts). */
import { chmod, mkdir } from 'node:fs/promises';

import { DROP_DIR_MODE, PRIVATE_DIR_MODE, type StatePaths } from './paths.js';

async function ensureDir(path: string, mode: number): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  // mkdir applies the umask and leaves existing directories alone: set the mode explicitly.
  if (process.platform !== 'win32') await chmod(path, mode);
}

export async function ensureStateLayout(paths: StatePaths): Promise<void> {
  await ensureDir(paths.root, 0o755);
  await ensureDir(paths.policyDir, PRIVATE_DIR_MODE);
  await ensureDir(paths.spoolDir, PRIVATE_DIR_MODE);
  await ensureDir(paths.launchesDir, DROP_DIR_MODE);
  await ensureDir(paths.requestsDir, DROP_DIR_MODE);
}
