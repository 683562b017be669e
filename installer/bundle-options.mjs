/**
 * How the agent is bundled into one ES module by esbuild: the shipped agent (package.mjs, entry
 * agent/cli.ts) and the tests' agent (test/support/agent-bin.ts, entry
 * test/support/agent-test-cli.ts) are built alike.
 *
 * @param {string} version the agent version baked in (agent/version.ts reads __AIGATE_AGENT_VERSION__)
 * @returns {import('esbuild').BuildOptions} options without entryPoints/outfile
 */
export function agentBundleOptions(version) {
  return {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // Some bundled dependencies are CommonJS and call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __aigateCreateRequire } from 'node:module'; const require = __aigateCreateRequire(import.meta.url);",
    },
    define: { __AIGATE_AGENT_VERSION__: JSON.stringify(version) },
  };
}
