/**
 * Check-in and policy-poll throughput of the real server, against a bare Fastify route in the
 * same run.
 *
 * Starts `aigate-server start` (the built bin, its own process) on a fresh data directory, and a
 * bare Fastify server (this file with --bare-server, its own process) whose routes only parse
 * the JSON body and answer. Enrolls many devices with real Ed25519 keys, gives each a realistic
 * inventory of 8 tool instances with verdicts from the shared evaluator, and drives both servers
 * with autocannon using one fresh, real device JWT per request. Prints requests per second, p99
 * latency and the ratio to the bare routes.
 *
 *   npm run bench:checkin                  (builds first)
 *   BENCH_DEVICES=2000 BENCH_CHECKINS=30000 BENCH_POLLS=60000 BENCH_CONNECTIONS=64 tsx test/bench/checkin.ts
 *   BENCH_CPU_PROF=/tmp/prof npm run bench:checkin     (also profiles the server)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import Fastify from 'fastify';

import { builtinCatalog } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluate } from '../../policies/evaluate.js';
import { loadPolicy } from '../../policies/load.js';
import { AdminClient } from '../../server/client/admin-client.js';
import { eightInstances } from '../server/helpers.js';
import { DeviceClient } from '../support/device-client.js';

// ---------------------------------------------------------------------------------------------
// autocannon has no bundled types; describe the part used here.

interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  amount: number;
  pipelining?: number;
  requests: { method: string; path: string; setupRequest: (request: AutocannonRequest) => AutocannonRequest }[];
}
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (
  options: AutocannonOptions,
) => Promise<AutocannonResult>;

const env = (name: string, fallback: number) => {
  const value = process.env[name];
  return value && /^\d+$/.test(value) ? Number(value) : fallback;
};
const DEVICES = env('BENCH_DEVICES', 2000);
const CHECKINS = env('BENCH_CHECKINS', 30_000);
const POLLS = env('BENCH_POLLS', 60_000);
const CONNECTIONS = env('BENCH_CONNECTIONS', 64);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const POLICY = `apiVersion: aigate/v1
kind: Policy
metadata:
  name: bench
spec:
  timezone: UTC
  default: allow
  rules:
    - name: ban-claude-code
      tools: [claude-code]
      action: block
      effective: 2026-07-10
      warnFor: 14d
    - name: old-codex
      tools: [openai-codex-cli]
      versions: "<0.160.0"
      action: warn
`;

// ---------------------------------------------------------------------------------------------
// The bare baseline: same framework, same body sizes, nothing else.

async function runBareServer(): Promise<void> {
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });
  app.post('/bare/checkin', async (request) => ({
    ok: true,
    items: Array.isArray((request.body as { inventory?: unknown[] }).inventory),
  }));
  app.get('/bare/poll', async (_request, reply) => reply.code(304).header('etag', '"r1-bare"').send());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.stdout.write(`bare listening on ${typeof address === 'object' && address ? address.port : 0}\n`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

// ---------------------------------------------------------------------------------------------

function waitForLine(child: ChildProcess, pattern: RegExp, collect: string[]): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${collect.join('\n')}`)),
      30_000,
    );
    lines.on('line', (line) => {
      collect.push(line);
      const match = pattern.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`process exited (${code}) before ${pattern}:\n${collect.join('\n')}`)),
    );
  });
}

async function startAigate(dataDir: string) {
  // BENCH_CPU_PROF=DIR writes a V8 CPU profile of the server to DIR (open it in Chrome DevTools).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(
    process.execPath,
    [
      ...profile,
      'dist/server/cli/aigate-server.js',
      'start',
      '--data',
      dataDir,
      '--port',
      '0',
      '--log-level',
      'warn',
      '--rate-device',
      '1000000',
      '--rate-token',
      '1000000',
      '--rate-enroll',
      '1000000',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const output: string[] = [];
  const listening = await waitForLine(child, /listening on (http:\/\/[^\s]+)/, output);
  const token = /aigt_[A-Za-z0-9_-]{43}/.exec(output.join('\n'))?.[0];
  if (!token) throw new Error('no bootstrap token printed');
  return { child, url: listening[1]!, token };
}

async function startBare() {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--bare-server'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const match = await waitForLine(child, /bare listening on (\d+)/, []);
  return { child, url: `http://127.0.0.1:${match[1]}` };
}

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

interface Measured {
  result: AutocannonResult;
  /** Requests per second over the whole run (autocannon's own average is per whole second sampled). */
  rate: number;
  /** Server CPU time (user + system) per request, in microseconds; null where /proc is missing. */
  cpuMicros: number | null;
}

/** CPU time a process has used so far, in microseconds (Linux /proc), or null elsewhere. */
function cpuTimeMicros(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    // Fields 14 and 15 (utime, stime) in clock ticks; the command name may contain spaces, so split after ')'.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks / CLOCK_TICKS) * 1e6;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100;
interface Row extends Measured {
  name: string;
  expected: number;
}

async function drive(
  server: ChildProcess,
  url: string,
  method: string,
  path: string,
  amount: number,
  next: (i: number) => { headers: Record<string, string>; body?: string },
): Promise<Measured> {
  let i = 0;
  const cpuBefore = cpuTimeMicros(server.pid);
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    amount,
    pipelining: 1,
    requests: [
      {
        method,
        path,
        setupRequest: (request) => {
          const { headers, body } = next(i++);
          return body === undefined ? { ...request, headers } : { ...request, headers, body };
        },
      },
    ],
  });
  const rate = amount / ((performance.now() - started) / 1000);
  const cpuAfter = cpuTimeMicros(server.pid);
  return { result, rate, cpuMicros: cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / amount };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'aigate-bench-'));
  const children: ChildProcess[] = [];
  try {
    const aigate = await startAigate(dataDir);
    children.push(aigate.child);
    const bare = await startBare();
    children.push(bare.child);

    const admin = new AdminClient(aigate.url, aigate.token);
    const published = await admin.post<{ revision: number; etag: string }>('/policies', { source: POLICY });
    const { secret } = await admin.post<{ secret: string }>('/enroll-secrets', {
      group: 'engineering',
      maxUses: DEVICES + 10,
    });

    const loaded = loadPolicy(POLICY);
    if (!loaded.ok) throw new Error('bench policy invalid');
    const compiled = compilePolicy(loaded.policy, builtinCatalog);
    const now = Date.now();

    process.stdout.write(`enrolling ${DEVICES} devices (Ed25519 keys) ...\n`);
    const devices: DeviceClient[] = [];
    const bodies: string[] = [];
    await inBatches(
      Array.from({ length: DEVICES }, (_, i) => i),
      32,
      async (i) => {
        const device = DeviceClient.generate(aigate.url);
        const user = `user${i}`;
        const result = await device.enroll(secret, {
          hostname: `host-${i}`,
          os: 'linux',
          users: [user],
          agentVersion: '0.1.0',
        });
        if (result.status !== 201) throw new Error(`enroll ${i}: ${result.status} ${result.text}`);
        const inventory = eightInstances(user);
        const verdicts = evaluate(
          compiled,
          inventory,
          { os: 'linux', group: 'engineering', deviceId: device.deviceId! },
          now,
        );
        devices[i] = device;
        bodies[i] = JSON.stringify({ policyRevision: published.revision, agentVersion: '0.1.0', inventory, verdicts });
      },
    );
    process.stdout.write(`first check-in of every device (creates its inventory rows) ...\n`);
    await inBatches(devices, 32, async (device) => {
      const index = devices.indexOf(device);
      const result = await device.send('POST', '/v1/checkin', { rawBody: bodies[index]! });
      if (result.status !== 200) throw new Error(`check-in: ${result.status} ${result.text}`);
    });
    const bodyBytes = Buffer.byteLength(bodies[0]!);

    // One fresh token per request, signed before the clock starts so the load generator spends
    // its time sending, not signing.
    const sign = (count: number) => Array.from({ length: count }, (_, i) => `Bearer ${devices[i % DEVICES]!.token()}`);
    process.stdout.write(`signing ${CHECKINS * 2 + POLLS * 2} device tokens ...\n`);
    const checkinTokens = sign(CHECKINS);
    const pollTokens = sign(POLLS);
    const bareCheckinTokens = sign(CHECKINS);
    const barePollTokens = sign(POLLS);
    const json = 'application/json';

    const rows: Row[] = [];
    process.stdout.write(`running (${CONNECTIONS} connections) ...\n`);
    rows.push({
      name: 'bare POST (parse the same JSON)',
      expected: 200,
      ...(await drive(bare.child, bare.url, 'POST', '/bare/checkin', CHECKINS, (i) => ({
        headers: { authorization: bareCheckinTokens[i]!, 'content-type': json },
        body: bodies[i % DEVICES]!,
      }))),
    });
    rows.push({
      name: 'aigate POST /v1/checkin',
      expected: 200,
      ...(await drive(aigate.child, aigate.url, 'POST', '/v1/checkin', CHECKINS, (i) => ({
        headers: { authorization: checkinTokens[i]!, 'content-type': json },
        body: bodies[i % DEVICES]!,
      }))),
    });
    rows.push({
      name: 'bare GET (304)',
      expected: 304,
      ...(await drive(bare.child, bare.url, 'GET', '/bare/poll', POLLS, (i) => ({
        headers: { authorization: barePollTokens[i]!, 'if-none-match': '"r1-bare"' },
      }))),
    });
    rows.push({
      name: 'aigate GET /v1/policy (304)',
      expected: 304,
      ...(await drive(aigate.child, aigate.url, 'GET', '/v1/policy', POLLS, (i) => ({
        headers: { authorization: pollTokens[i]!, 'if-none-match': published.etag },
      }))),
    });

    const [bareCheckin, checkin, barePoll, poll] = rows as [Row, Row, Row, Row];
    process.stdout.write(
      `\n${DEVICES} devices, 8 tool instances each (${bodyBytes} byte check-in body), ${CONNECTIONS} connections, node ${process.version}\n\n`,
    );
    process.stdout.write(
      `${'route'.padEnd(34)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'cpu µs/req'.padStart(12)}  status codes\n`,
    );
    for (const row of rows) {
      const codes = Object.entries(row.result.statusCodeStats)
        .map(([code, { count }]) => `${code}x${count}`)
        .join(' ');
      const wrong =
        row.result.requests.total -
        (row.result.statusCodeStats[String(row.expected)]?.count ?? 0) +
        row.result.errors +
        row.result.timeouts;
      process.stdout.write(
        `${row.name.padEnd(34)}${row.rate.toFixed(0).padStart(9)}${row.result.latency.p50.toFixed(1).padStart(9)}${row.result.latency.p99.toFixed(1).padStart(9)}${(row.cpuMicros === null ? 'n/a' : row.cpuMicros.toFixed(0)).padStart(12)}  ${codes}${wrong ? `  (${wrong} unexpected!)` : ''}\n`,
      );
    }
    const ratio = (a: Row, b: Row) => (a.rate / b.rate).toFixed(2);
    const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
    process.stdout.write(
      `\ncheck-ins per second:  ${checkin.rate.toFixed(0)}  (target >= 3000: ${verdict(checkin.rate >= 3000)})  ratio to the bare JSON route ${ratio(checkin, bareCheckin)}\n`,
    );
    const cpuRatio = (a: Row, b: Row) =>
      a.cpuMicros === null || b.cpuMicros === null ? 'n/a' : (b.cpuMicros / a.cpuMicros).toFixed(2);
    process.stdout.write(
      `server CPU per request (robust to a busy machine): a check-in costs ${checkin.cpuMicros?.toFixed(0) ?? 'n/a'} µs, i.e. ${checkin.cpuMicros ? Math.round(1e6 / checkin.cpuMicros) : 'n/a'} check-ins per CPU-second; ` +
        `ratio to the bare JSON route ${cpuRatio(checkin, bareCheckin)}; a 304 poll ${poll.cpuMicros?.toFixed(0) ?? 'n/a'} µs, ratio to the bare JSON route ${cpuRatio(poll, bareCheckin)}\n`,
    );
    process.stdout.write(
      `304 polls per second:  ${poll.rate.toFixed(0)}  ratio to the bare JSON route ${ratio(poll, bareCheckin)} (target >= 0.60: ${verdict(poll.rate >= 0.6 * bareCheckin.rate)}), to a bare GET ${ratio(poll, barePoll)}\n`,
    );
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--bare-server')) {
  await runBareServer();
} else {
  await main();
}
