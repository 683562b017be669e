/**
 * Shim managers: programs that stand in for many tools and dispatch by the name they were started
 * as (mise, asdf, Volta, proto, nodenv). A shim that resolves to one of them is a launcher at most,
 * never the tool: blocking a tool must never touch the manager, which runs every other tool
 * (issue 12 item 5: a mise `claude` shim links to ~/.local/bin/mise).
 *
 * Sources: mise shims are symlinks to the mise binary (mise docs "Shims"); asdf shims are scripts
 * running `asdf exec <bin>` (asdf lib/commands/reshim); Volta's bin/ entries link to `volta-shim`
 * (volta-core shim.rs); proto's shims are copies of `proto-shim` (proto docs "Shims").
 */
import * as path from 'node:path';

/** Executable base names of shim managers (lower case, without a Windows extension). */
const SHIM_MANAGER_EXECUTABLES: ReadonlySet<string> = new Set([
  'mise',
  'rtx',
  'asdf',
  'volta',
  'volta-shim',
  'proto',
  'proto-shim',
  'nodenv',
  'rbenv',
  'pyenv',
  'goenv',
]);

/** A shim script's dispatch line: `asdf exec`, `mise x --`, `nodenv exec`, `proto run`. */
const SHIM_SCRIPT =
  /\b(?:asdf|mise|rtx|nodenv|rbenv|pyenv|goenv)["']?\s+exec\b|\b(?:mise|rtx)["']?\s+x\b|\bproto["']?\s+run\b/;

/**
 * The shim manager a command resolves to, or null. `real` is the command's real path; `head`,
 * when given, the first bytes of a script command (checked for a dispatch line).
 */
export function shimManagerOf(real: string, head?: string | null): string | null {
  const base = path
    .basename(real)
    .toLowerCase()
    .replace(/\.exe$/, '');
  if (SHIM_MANAGER_EXECUTABLES.has(base)) return base;
  if (head && head.startsWith('#!')) {
    // Dispatch lines only: a comment naming `asdf exec` is not one.
    const code = head
      .slice(0, 4096)
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    const m = SHIM_SCRIPT.exec(code);
    if (m) return m[0].replace(/["']/g, '').split(/\s+/)[0]!;
  }
  return null;
}
