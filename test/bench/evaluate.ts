/**
 * Evaluator throughput: a 200-rule policy (ids, vendors, categories, version ranges, scopes,
 * dated bans with warn windows, until) plus 20 exceptions, against a 10-tool inventory, on one
 * core. Prints inventory evaluations per second (10 verdicts each) and verdicts per second, and
 * for scale a baseline measured in the same run: a bare loop that only walks the same 200 rules
 * per instance doing one set lookup each, with no matching logic at all.
 *
 *   npm run bench:evaluate          target: more than 200,000 inventory evaluations per second
 */
import { builtinCatalog } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluate } from '../../policies/evaluate.js';
import type { DeviceFacts, ToolInstance } from '../../policies/inventory.js';
import { validatePolicyValue } from '../../policies/load.js';
import type { PolicyDocument, Rule } from '../../policies/schema.js';

const RULES = 200;
const ROUND_MS = 1000;
const ROUNDS = 5;

const ids = builtinCatalog.tools.map((tool) => tool.id);
const vendors = [...new Set(builtinCatalog.tools.map((tool) => tool.vendor))];

function buildPolicy(): PolicyDocument {
  const rules: Rule[] = [];
  for (let i = 0; i < RULES; i++) {
    const id = ids[i % ids.length]!;
    switch (i % 5) {
      case 0:
        rules.push({
          tools: [id],
          action: 'block',
          versions: `>=${(i % 7) + 1}.${i % 10}.0`,
          groups: [`team-${i % 13}`],
        });
        break;
      case 1:
        rules.push({
          tools: [id, ids[(i + 3) % ids.length]!],
          action: 'block',
          effective: `2027-0${(i % 9) + 1}-10`,
          warnFor: '14d',
          users: [`user-${i}`],
        });
        break;
      case 2:
        rules.push({
          tools: [`vendor:${vendors[i % vendors.length]!}`],
          action: 'warn',
          os: ['darwin'],
          devices: [`host-${i}`],
        });
        break;
      case 3:
        rules.push({
          tools: [id],
          action: 'allow',
          versions: `<${i % 5}.${i % 3}.0 || >=9.0.0`,
          until: '2030-01-01',
          groups: ['research'],
        });
        break;
      default:
        rules.push({
          tools: ['category:ide-extension', id],
          action: 'warn',
          effective: '2026-01-01',
          until: '2026-06-01',
        });
    }
  }
  const exceptions = Array.from({ length: 20 }, (_, i) => ({
    tools: [ids[(i * 7) % ids.length]!],
    users: [`user-${i}`],
    until: '2027-01-01',
    reason: `ticket ${i}`,
  }));
  return {
    apiVersion: 'aigate/v1',
    kind: 'Policy',
    metadata: { name: 'bench-200' },
    spec: {
      timezone: 'Asia/Shanghai',
      default: 'block',
      unknownTools: 'warn',
      notice: { contact: 'it@example.com', alternatives: ['qwen-code'] },
      rules,
      exceptions,
    },
  };
}

const inventory: ToolInstance[] = [
  'claude-code',
  'openai-codex-cli',
  'gemini-cli',
  'github-copilot-ide',
  'cursor',
  'qwen-code',
  'tongyi-lingma',
  'cline',
  'aider',
  'kimi-cli',
].map((toolId, i) => ({
  toolId,
  version: `${(i % 4) + 1}.${i}.${i * 3}`,
  channel: 'npm',
  installPath: `/home/alice/.npm-global/lib/node_modules/${toolId}`,
  launchers: [],
  owner: 'alice',
  evidence: [],
}));
const device: DeviceFacts = { os: 'linux', group: 'team-3', deviceId: 'dev-1', hostname: 'alice-laptop' };
const NOW = Date.parse('2026-11-25T12:00:00Z');

/** Runs `work` repeatedly for ROUND_MS and returns calls per second; median of ROUNDS. */
function rate(work: () => unknown): number {
  const rates: number[] = [];
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(ROUND_MS) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 1000; i++) if (work()) sink++;
      calls += 1000;
      now = process.hrtime.bigint();
    }
    rates.push(calls / (Number(now - start) / 1e9));
  }
  if (sink < 0) console.log(sink);
  return rates.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

const document = buildPolicy();
const loaded = validatePolicyValue(document);
if (!loaded.ok) throw new Error(`bench policy invalid: ${JSON.stringify(loaded.errors.slice(0, 3))}`);

const compileStart = process.hrtime.bigint();
const compiled = compilePolicy(loaded.policy, builtinCatalog);
const compileMs = Number(process.hrtime.bigint() - compileStart) / 1e6;

// Warm up, then measure.
for (let i = 0; i < 20_000; i++) evaluate(compiled, inventory, device, NOW + i);
const evaluations = rate(() => evaluate(compiled, inventory, device, NOW).length);

// Baseline: the same number of rules walked per instance, one Set lookup each, no semantics.
const ruleSets = (loaded.policy.spec.rules ?? []).map((rule) => new Set(rule.tools));
const baseline = rate(() => {
  let hits = 0;
  for (const instance of inventory) for (const set of ruleSets) if (set.has(instance.toolId)) hits++;
  return hits;
});

const verdicts = evaluate(compiled, inventory, device, NOW);
const summary = verdicts.reduce<Record<string, number>>(
  (acc, v) => ((acc[v.action] = (acc[v.action] ?? 0) + 1), acc),
  {},
);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

console.log(
  `evaluate: ${RULES} rules + ${document.spec.exceptions!.length} exceptions, ${inventory.length}-tool inventory, one core (node ${process.version})`,
);
console.log(`  compile once:                 ${compileMs.toFixed(2)} ms`);
console.log(`  inventory evaluations/s:      ${fmt(evaluations)}   (target > 200,000)`);
console.log(`  verdicts/s:                   ${fmt(evaluations * inventory.length)}`);
console.log(`  baseline (bare rule walk)/s:  ${fmt(baseline)}`);
console.log(`  ratio evaluate / baseline:    ${(evaluations / baseline).toFixed(2)}x`);
console.log(`  verdicts in the sample:       ${JSON.stringify(summary)}`);
console.log(`  target met: ${evaluations > 200_000 ? 'yes' : 'NO'}`);
