/**
 * How long the CLIs take to answer from a checkout: `aigate --help`, `aigate --version`,
 * `aigate-agent --version` / `--help`, `aigate-server --version`, each a fresh `node` process
 * running the built dist/ files, and the bundled agent (installer/package.mjs, one esbuild file)
 * the same way. Most of a CLI's time is Node starting and loading modules, so each figure is
 * shown beside a bare `node -e 0` measured in the same run, interleaved with the others (a busy
 * machine slows all of them alike), and as the difference: what the CLI itself costs. Each run's
 * CPU time (user + system) is shown too: on a busy machine it moves far less than the wall time.
 *
 *   npm run bench:cli           target: aigate --help median under 150 ms
 *   BENCH_RUNS=40 tsx test/bench/cli.ts
 *   BENCH_CLI_COMPARE=/path/to/other/checkout tsx test/bench/cli.ts   (its dist/ built: before/after)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = 2;
const TARGET_MS = 150;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/**
 * Preloaded into every run (the baseline too, so all pay it alike): at exit, writes the process's
 * CPU time (user + system, µs) to fd 3. CPU time is what the CLI itself costs; on a busy machine
 * the wall time also counts the wait for a core.
 */
const CPU_PRELOAD = `data:text/javascript,${encodeURIComponent(
  "import { writeSync } from 'node:fs'; process.on('exit', () => { const u = process.cpuUsage(); writeSync(3, String(u.user + u.system)); });",
)}`;

/** Wall and CPU time of one `node ...args` run in ms; the run must succeed and print something. */
function timeRun(args: string[], cwd: string): { wall: number; cpu: number } {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, ['--import', CPU_PRELOAD, ...args], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0 || (args[0] !== '-e' && !args[0]!.endsWith('empty.mjs') && result.stdout.length === 0)) {
    throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  const cpu = Number(result.output[3]) / 1000;
  if (!Number.isFinite(cpu)) throw new Error(`node ${args.join(' ')}: no CPU time reported`);
  return { wall, cpu };
}

function main(): void {
  const dist = (path: string) => join(ROOT, 'dist', path);
  if (!existsSync(dist('server/cli/aigate.js')) || !existsSync(dist('agent/cli.js')))
    throw new Error('build first: npm run build');

  const work = mkdtempSync(join(tmpdir(), 'aigate-bench-cli-'));
  try {
    // The agent as it is shipped: one esbuild bundle, no node_modules beside it.
    execFileSync(process.execPath, [join(ROOT, 'installer/package.mjs'), '--out', join(work, 'out'), '--os', 'linux'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const bundle = join(work, 'out', 'aigate-agent.mjs');
    if (!existsSync(bundle)) throw new Error(`installer/package.mjs made no ${bundle}`);

    // An ES module that does nothing: what starting Node's ESM loader costs before any of our code.
    const empty = join(work, 'empty.mjs');
    writeFileSync(empty, 'process.stdout.write("")\n');
    const cases: { name: string; args: string[]; cwd: string; target?: number }[] = [
      { name: 'node -e 0 (baseline)', args: ['-e', '0'], cwd: ROOT },
      { name: 'node empty.mjs', args: [empty], cwd: work },
      { name: 'aigate --help', args: [dist('server/cli/aigate.js'), '--help'], cwd: ROOT, target: TARGET_MS },
      { name: 'aigate --version', args: [dist('server/cli/aigate.js'), '--version'], cwd: ROOT },
      { name: 'aigate policy --help', args: [dist('server/cli/aigate.js'), 'policy', '--help'], cwd: ROOT },
      { name: 'aigate-server --version', args: [dist('server/cli/aigate-server.js'), '--version'], cwd: ROOT },
      { name: 'aigate-agent --version', args: [dist('agent/cli.js'), '--version'], cwd: ROOT },
      { name: 'aigate-agent --help', args: [dist('agent/cli.js'), '--help'], cwd: ROOT },
      { name: 'bundled agent --version', args: [bundle, '--version'], cwd: work },
      { name: 'bundled agent --help', args: [bundle, '--help'], cwd: work },
    ];
    const other = process.env.BENCH_CLI_COMPARE;
    if (other) {
      const theirs = (path: string) => join(other, 'dist', path);
      if (!existsSync(theirs('server/cli/aigate.js')))
        throw new Error(`BENCH_CLI_COMPARE: no ${theirs('server/cli/aigate.js')}; build that checkout first`);
      cases.push(
        { name: 'compared: aigate --help', args: [theirs('server/cli/aigate.js'), '--help'], cwd: other },
        { name: 'compared: agent --version', args: [theirs('agent/cli.js'), '--version'], cwd: other },
      );
    }
    const times = cases.map(() => [] as number[]);
    const cpus = cases.map(() => [] as number[]);
    // Round-robin, so load that comes and goes during the run falls on every case alike.
    for (let run = 0; run < WARMUP + RUNS; run++) {
      cases.forEach((c, index) => {
        const { wall, cpu } = timeRun(c.args, c.cwd);
        if (run < WARMUP) return;
        times[index]!.push(wall);
        cpus[index]!.push(cpu);
      });
    }

    const baseline = percentile(times[0]!, 0.5);
    const cpuBaseline = percentile(cpus[0]!, 0.5);
    console.log(
      `CLI start-up from a checkout (node ${process.version}, ${RUNS} runs each after ${WARMUP} warm-up, interleaved)`,
    );
    console.log(
      `${'command'.padEnd(26)} ${'median'.padStart(9)} ${'p90'.padStart(9)} ${'over node -e 0'.padStart(15)} ${'CPU median'.padStart(11)} ${'CPU over'.padStart(9)}`,
    );
    let missed = false;
    cases.forEach((c, index) => {
      const median = percentile(times[index]!, 0.5);
      const p90 = percentile(times[index]!, 0.9);
      const over = index === 0 ? '' : `+${(median - baseline).toFixed(0)} ms`;
      const cpu = percentile(cpus[index]!, 0.5);
      const cpuOver = index === 0 ? '' : `+${(cpu - cpuBaseline).toFixed(0)} ms`;
      let verdict = '';
      if (c.target !== undefined) {
        const met = median < c.target;
        missed ||= !met;
        verdict = `   target < ${c.target} ms: ${met ? 'met' : `MISSED (of which node itself takes ${baseline.toFixed(0)} ms)`}`;
      }
      console.log(
        `${c.name.padEnd(26)} ${`${median.toFixed(0)} ms`.padStart(9)} ${`${p90.toFixed(0)} ms`.padStart(9)} ${over.padStart(15)} ${`${cpu.toFixed(0)} ms`.padStart(11)} ${cpuOver.padStart(9)}${verdict}`,
      );
    });
    if (missed && baseline > TARGET_MS / 2)
      console.log(
        'note: node alone takes over half the target here; the machine is slow or busy, so compare the "over node -e 0" column',
      );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
