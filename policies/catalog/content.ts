/**
 * Which catalogued tool a file's bytes are, whatever the manifest beside it says (issue 12, red-team
 * B4-B7: a copy of Claude Code whose package.json is renamed to `@openai/codex`, or deleted, is
 * still Claude Code). Each tool's `content.markers` (catalog.json) are strings its entry file (the
 * JS bundle its bin points to) contains in every release checked; all of them must occur. Only the
 * first and last CONTENT_WINDOW_BYTES are looked at, so a 10 MB bundle costs two bounded reads.
 * Pure: the agent reads the windows and hands them in (agent/inventory/content.ts).
 *
 * Checked releases (test/policies/catalog-content.test.ts, real files from the npm test cache):
 * @anthropic-ai/claude-code 2.0.22, 2.0.45, 2.0.46, 2.1.50 (cli.js; header `// (c) Anthropic
 * PBC. All rights reserved.` and `// Version: <v>`), @openai/codex 0.111.0 (bin/codex.js,
 * `// Unified entry point for the Codex CLI.`, also the first comment of older launchers in
 * openai/codex codex-cli/bin/codex.js). Refresh: see README.md beside this file.
 */
import type { CatalogIndex } from './index.js';
import type { CatalogTool } from './schema.js';

/** Bytes read from each end of a file for the markers (4 MiB). */
export const CONTENT_WINDOW_BYTES = 4 * 1024 * 1024;

/** A file identified by content. */
export interface ContentMatch {
  tool: CatalogTool;
  /** From the tool's `content.version` pattern, when it matched in the first window; else null. */
  version: string | null;
  /** Why, in words for the evidence list. */
  why: string;
}

const versionPatterns = new WeakMap<CatalogTool, RegExp | null>();

function versionPattern(tool: CatalogTool): RegExp | null {
  let re = versionPatterns.get(tool);
  if (re === undefined) {
    try {
      re = tool.content?.version ? new RegExp(tool.content.version, 'm') : null;
    } catch {
      re = null; // a bad pattern in a shipped catalog gives no version, never an exception
    }
    versionPatterns.set(tool, re);
  }
  return re;
}

/**
 * The tool a file is by its markers, looked for in `head` and `tail` (the first and last
 * CONTENT_WINDOW_BYTES of the file, decoded as latin1 so bytes map 1:1; `tail` empty when the
 * whole file fits in `head`), or null. Each tool scores the number of its markers present; the
 * single top scorer is the answer when it has all of its markers. So another tool's marker added
 * to a bundle does not hide it (Claude Code's 3 outscore Codex's 1), removing one of its markers
 * and adding another tool's does not launder it into that tool (a partial top scorer gives null:
 * the manifest or a fingerprint decides, as without markers), and a tie gives null (do nothing
 * when in doubt).
 */
export function identifyContent(index: CatalogIndex, head: string, tail: string): ContentMatch | null {
  let best: CatalogTool | null = null;
  let bestScore = 0;
  let tie = false;
  for (const tool of index.catalog.tools) {
    const markers = tool.content?.markers;
    if (!markers?.length) continue;
    const score = markers.filter((m) => head.includes(m) || tail.includes(m)).length;
    if (score > bestScore) {
      best = tool;
      bestScore = score;
      tie = false;
    } else if (score === bestScore && score > 0) tie = true;
  }
  if (!best || tie || bestScore < best.content!.markers.length) return null;
  const m = versionPattern(best)?.exec(head.slice(0, 4096));
  return {
    tool: best,
    version: m?.[1] ?? null,
    why: `its content has ${best.id}'s markers (${best.content!.markers.map((s) => JSON.stringify(s)).join(', ')})`,
  };
}
