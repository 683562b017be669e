import type { BuildOptions } from 'esbuild';

/** How the agent is bundled (bundle-options.mjs): options without entryPoints/outfile. */
export function agentBundleOptions(version: string): BuildOptions;
