/**
 * Report streaming and the overview on a large fleet.
 *
 * Seeds 100,000 devices with 10 tool instances each (1,000,000 inventory rows, each with its
 * "appeared" history row and a verdict from the shared evaluator) plus 200,000 events straight
 * into a real database file in one transaction (seeding is not measured), starts the real
 * server (`aigate-server start`, the built bin, its own process), builds the rollups, then
 * streams the inventory CSV over HTTP and prints rows per second, total time and the server's
 * peak RSS growth while streaming (/proc/<pid>/status VmHWM, reset through clear_refs before),
 * against a baseline: the same query iterated in this process without HTTP or CSV. Also prints
 * the overview API's response times on that data.
 *
 * Targets: inventory CSV in under 10 s, peak RSS growth under 150 MB, overview under 300 ms.
 *
 *   npm run bench:report                          (builds first)
 *   BENCH_DEVICES=20000 tsx test/bench/report.ts  (a smaller fleet)
 *   BENCH_DATA=/tmp/fleet tsx test/bench/report.ts (seed there once, reuse it on later runs)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { get } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';

import { builtinCatalog } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluate } from '../../policies/evaluate.js';
import { instanceKey, type ToolInstance } from '../../policies/inventory.js';
import { loadPolicy } from '../../policies/load.js';
import { DATABASE_FILE } from '../../server/context.js';
import { openDatabase } from '../../server/db/open.js';
import { INVENTORY_SELECT } from '../../server/reports/kinds/inventory.js';
import { TokenStore } from '../../server/store/tokens.js';
import { eightInstances, npmInstance } from '../server/helpers.js';

const env = (name: string, fallback: number) => {
  const value = process.env[name];
  return value && /^\d+$/.test(value) ? Number(value) : fallback;
};
const DEVICES = env('BENCH_DEVICES', 100_000);
const EVENTS = env('BENCH_EVENTS', 200_000);
const OVERVIEW_CALLS = 30;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DAY = 86_400_000;
const MB = 1024 * 1024;

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
      effective: 2020-01-01
    - name: old-codex
      tools: [openai-codex-cli]
      versions: "<0.160.0"
      action: warn
    - name: ban-gemini-cli
      tools: [gemini-cli]
      action: block
      effective: ${new Date(Date.now() + 20 * DAY).toISOString().slice(0, 10)}
      warnFor: 7d
`;

function tenInstances(user: string): ToolInstance[] {
  return [
    ...eightInstances(user),
    npmInstance('opencode', 'opencode-ai', '0.15.2', user),
    npmInstance('crush', '@charmland/crush', '0.9.1', user),
  ];
}

function seed(file: string, now: number): { token: string } {
  const { db } = openDatabase(file);
  try {
    const token = db.transaction(() => new TokenStore(db, () => now).create('bench', 'admin', null).token)();
    const loaded = loadPolicy(POLICY);
    if (!loaded.ok) throw new Error('bench policy invalid');
    const compiled = compilePolicy(loaded.policy, builtinCatalog);
    const groups = ['engineering', 'design', 'data', 'support', 'platform'];
    const insertDevice = db.prepare(
      `INSERT INTO devices (id, key_thumbprint, public_jwk, hostname, os, os_version, arch, users, agent_version, group_name, enrolled_at, last_seen_at, last_checkin_at, policy_revision)
       VALUES (?, ?, '{}', ?, 'linux', 'Ubuntu 24.04', 'x64', ?, '0.3.1', ?, ?, ?, ?, 1)`,
    );
    const insertInstance = db.prepare(
      `INSERT INTO instances (device_id, instance_key, group_name, tool_id, name, version, channel, install_path, owner, host, running, detail, action, phase, enforce,
                              decided_by, effective_at, verdict, digest, present, first_seen_at, changed_at, violation_since, policy_revision)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 1)`,
    );
    const insertHistory = db.prepare(
      `INSERT INTO instance_history (at, device_id, instance_key, tool_id, change, old_version, new_version, old_action, new_action, policy_revision)
       VALUES (?, ?, ?, ?, 'appeared', NULL, ?, NULL, ?, 1)`,
    );
    const insertEvent = db.prepare(
      `INSERT INTO events (device_id, id, type, at, received_at, tool_id, install_path, version, user_name, policy_revision, message)
       VALUES (?, ?, ?, ?, ?, 'claude-code', ?, '2.1.91', ?, 1, 'Claude Code is blocked')`,
    );
    const ids: string[] = [];
    db.transaction(() => {
      for (let d = 0; d < DEVICES; d++) {
        const id = randomUUID();
        ids.push(id);
        const user = `user${d}`;
        const group = groups[d % groups.length]!;
        const enrolledAt = now - 40 * DAY + (d % 1000) * 60_000;
        const firstSeen = enrolledAt + 3_600_000 + (d % 20) * DAY; // installs appear over 20 days
        // One device in twelve has not checked in for more than a week.
        const lastCheckin = d % 12 === 0 ? now - 9 * DAY : now - (d % 60) * 60_000;
        insertDevice.run(
          id,
          createHash('sha256').update(id).digest('base64url'),
          `host-${String(d).padStart(6, '0')}`,
          JSON.stringify([user]),
          group,
          enrolledAt,
          lastCheckin,
          lastCheckin,
        );
        const instances = tenInstances(user);
        const verdicts = evaluate(
          compiled,
          instances,
          { os: 'linux', group, deviceId: id, hostname: `host-${d}` },
          now,
        );
        instances.forEach((instance, i) => {
          const verdict = verdicts[i]!;
          const key = instanceKey(instance);
          const violation = verdict.action === 'warn' || verdict.action === 'block';
          insertInstance.run(
            id,
            key,
            group,
            instance.toolId,
            instance.name ?? null,
            instance.version,
            instance.channel,
            instance.installPath,
            instance.owner,
            instance.host ?? null,
            instance.running === undefined ? null : instance.running ? 1 : 0,
            JSON.stringify({ launchers: instance.launchers, evidence: instance.evidence }),
            verdict.action,
            verdict.phase,
            verdict.enforce ? 1 : 0,
            verdict.decidedBy.name,
            verdict.effectiveAt,
            JSON.stringify(verdict),
            createHash('sha1').update(key).digest('base64'),
            firstSeen,
            firstSeen,
            violation ? firstSeen : null,
          );
          insertHistory.run(firstSeen, id, key, instance.toolId, instance.version, verdict.action);
        });
      }
      for (let e = 0; e < EVENTS; e++) {
        const d = (e * 7919) % DEVICES;
        const at = now - (e % (14 * 24)) * 3_600_000;
        insertEvent.run(
          ids[d]!,
          randomUUID(),
          e % 5 === 0 ? 'warned-launch' : 'blocked-launch',
          at,
          at + 60_000,
          `/home/user${d}/.npm-global/lib/node_modules/@anthropic-ai/claude-code`,
          `user${d}`,
        );
      }
    })();
    return { token };
  } finally {
    db.close();
  }
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const reader = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}:\n${lines.join('\n')}`)),
      120_000,
    );
    reader.on('line', (line) => {
      lines.push(line);
      const match = pattern.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${lines.join('\n')}`)));
  });
}

/** kB figures of /proc/<pid>/status, in bytes. */
function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** CPU seconds (user + system) the process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Reset the peak (VmHWM) to the current RSS; Linux, as the process owner or root. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function api<T>(url: string, token: string, path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Read a report over HTTP as a client would, counting bytes and lines without keeping them. */
function streamReport(url: string, token: string, path: string): Promise<{ ms: number; bytes: number; lines: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = get(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } }, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`${path}: ${response.statusCode}`));
        response.resume();
        return;
      }
      let bytes = 0;
      let lines = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
      });
      response.on('end', () => resolve({ ms: performance.now() - started, bytes, lines }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist/server/cli/aigate-server.js'))) throw new Error('build first: npm run build');
  const keep = process.env.BENCH_DATA;
  const dataDir = keep ?? (await mkdtemp(join(tmpdir(), 'aigate-bench-report-')));
  let child: ChildProcess | null = null;
  try {
    const now = Date.now();
    const file = join(dataDir, DATABASE_FILE);
    const tokenFile = join(dataDir, 'bench-token');
    let token: string;
    if (keep && existsSync(tokenFile)) {
      token = readFileSync(tokenFile, 'utf8');
      process.stdout.write(`reusing the fleet seeded in ${dataDir}\n`);
    } else {
      process.stdout.write(
        `seeding ${fmt(DEVICES)} devices x 10 instances and ${fmt(EVENTS)} events into ${file} ...\n`,
      );
      const seedStart = performance.now();
      token = seed(file, now).token;
      if (keep) writeFileSync(tokenFile, token, { mode: 0o600 });
      process.stdout.write(
        `seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s; database ${fmt((await stat(file)).size / MB)} MB\n`,
      );
    }

    // Baseline: the report's own query read in this process, no mapping, CSV or HTTP (after
    // migrations, so its index exists: open the file as the server will).
    openDatabase(file).db.close();
    const raw = new Database(file, { readonly: true });
    const baselineStart = performance.now();
    let baselineRows = 0;
    for (const _row of raw
      .prepare(`SELECT ${INVENTORY_SELECT} FROM instances i ORDER BY i.device_id, i.instance_key`)
      .raw(true)
      .iterate())
      baselineRows++;
    const baselineMs = performance.now() - baselineStart;
    raw.close();

    child = spawn(
      process.execPath,
      [
        'dist/server/cli/aigate-server.js',
        'start',
        '--data',
        dataDir,
        '--port',
        '0',
        '--log-level',
        'warn',
        '--rate-token',
        '1000000',
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const url = (await waitForLine(child, /listening on (http:\/\/\S+)/))[1]!;
    const pid = child.pid!;
    await api(url, token, '/v1/admin/policies', { method: 'POST', body: JSON.stringify({ source: POLICY }) });
    process.stdout.write('building the rollups (1,000,000 history rows, next changes over 1,000,000 instances) ...\n');
    const rollupStart = performance.now();
    const rollup = await api<{ lastRun: { inventory: { historyRows: number; days: number }; durationMs: number } }>(
      url,
      token,
      '/v1/reports/rollups/run',
      { method: 'POST' },
    );
    const rollupMs = performance.now() - rollupStart;

    // Settle, then measure the streaming's own peak.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const peakReset = resetPeak(pid);
    const before = memory(pid);
    const cpuBefore = cpuSeconds(pid);
    const csv = await streamReport(url, token, '/v1/reports/inventory?format=csv');
    const csvCpu = cpuSeconds(pid) - cpuBefore;
    const after = memory(pid);
    const growth = after.hwm - before.rss;

    const ndjsonBefore = memory(pid);
    resetPeak(pid);
    const ndjsonCpuBefore = cpuSeconds(pid);
    const ndjson = await streamReport(url, token, '/v1/reports/inventory?format=ndjson');
    const ndjsonCpu = cpuSeconds(pid) - ndjsonCpuBefore;
    const ndjsonGrowth = memory(pid).hwm - ndjsonBefore.rss;

    const times: number[] = [];
    for (let i = 0; i < OVERVIEW_CALLS + 1; i++) {
      const started = performance.now();
      await api(url, token, '/v1/reports/overview');
      times.push(performance.now() - started);
    }
    const first = times.shift()!;
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    const p95 = times[Math.floor(times.length * 0.95)]!;
    const max = times[times.length - 1]!;

    const rows = csv.lines - 1;
    const rate = rows / (csv.ms / 1000);
    process.stdout.write(
      `\n${fmt(DEVICES)} devices, ${fmt(rows)} inventory rows, ${fmt(EVENTS)} events, node ${process.version}, ${cpus().length} shared cores\n\n`,
    );
    process.stdout.write(
      `rollups (history pass over ${fmt(rollup.lastRun.inventory.historyRows)} rows, ${rollup.lastRun.inventory.days} days, next changes): ${(rollup.lastRun.durationMs / 1000).toFixed(1)} s (${(rollupMs / 1000).toFixed(1)} s after the startup run)\n`,
    );
    process.stdout.write(
      `baseline: the report's query read in-process, no mapping, CSV or HTTP: ${fmt(baselineRows / (baselineMs / 1000))} rows/s (${(baselineMs / 1000).toFixed(2)} s)\n`,
    );
    process.stdout.write(
      `inventory CSV over HTTP: ${fmt(rows)} rows, ${fmt(csv.bytes / MB)} MB in ${(csv.ms / 1000).toFixed(2)} s = ${fmt(rate)} rows/s (${(rows / (csv.ms / 1000) / (baselineRows / (baselineMs / 1000))).toFixed(2)} of the baseline)   target < 10 s: ${met(csv.ms < 10_000)}\n`,
    );
    process.stdout.write(
      `  the server spent ${csvCpu.toFixed(1)} s of CPU on it (load average while measuring: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)\n`,
    );
    process.stdout.write(
      `server RSS: ${fmt(before.rss / MB)} MB before, peak ${fmt(after.hwm / MB)} MB while streaming: growth ${fmt(growth / MB)} MB${peakReset ? '' : ' (VmHWM could not be reset: figure includes earlier peaks)'}   target < 150 MB: ${met(growth < 150 * MB)}\n`,
    );
    process.stdout.write(
      `inventory NDJSON over HTTP: ${fmt(ndjson.bytes / MB)} MB in ${(ndjson.ms / 1000).toFixed(2)} s = ${fmt(ndjson.lines / (ndjson.ms / 1000))} rows/s (server CPU ${ndjsonCpu.toFixed(1)} s), RSS growth ${fmt(ndjsonGrowth / MB)} MB\n`,
    );
    process.stdout.write(
      `overview API: first ${first.toFixed(0)} ms, then median ${median.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms, max ${max.toFixed(0)} ms over ${OVERVIEW_CALLS} calls   target < 300 ms: ${met(p95 < 300)}\n`,
    );
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (!keep) await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
