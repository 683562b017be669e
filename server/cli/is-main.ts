/** Whether a CLI module is the program node was started with (and not imported by a test or another module). */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * True when `process.argv[1]` is the module at `moduleUrl` (its `import.meta.url`), links resolved: npm's bin links
 * and `npx` start the CLI through a symlink. False when either path cannot be resolved.
 */
export function isMainModule(moduleUrl: string): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
