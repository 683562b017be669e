/** Home folders on this machine, for the enforcement guard (a home is never an install). */
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function machineHomes(explicit: readonly string[] | undefined): string[] {
  const homes = new Set<string>(explicit ?? []);
  for (const root of process.platform === 'darwin'
    ? ['/Users']
    : process.platform === 'win32'
      ? [`${process.env.SystemDrive ?? 'C:'}\\Users`]
      : ['/home']) {
    try {
      for (const entry of readdirSync(root, { withFileTypes: true }))
        if (entry.isDirectory()) homes.add(join(root, entry.name));
    } catch {
      // not there
    }
  }
  if (process.platform !== 'win32') homes.add('/root');
  homes.add(homedir());
  return [...homes];
}
