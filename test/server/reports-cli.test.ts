/**
 * `aigate report export` and `aigate report rollup` against a real server (in-process CLI, real
 * HTTP), and the aigate-server flags of the reports.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runAigate } from '../../server/cli/aigate.js';
import { runAigateServer } from '../../server/cli/aigate-server.js';
import { REPORT_KIND_NAMES } from '../../server/cli/commands/reports.js';
import { DATABASE_FILE } from '../../server/context.js';
import { REPORT_KINDS } from '../../server/reports/kinds/index.js';
import { developerTools, Fleet, type FleetDevice } from '../ui/fleet.js';
import { tempDir } from './helpers.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let fleet: Fleet;
let auditor: string;
let a: FleetDevice;

beforeAll(async () => {
  dir = await tempDir('aigate-report-cli-');
  fleet = await Fleet.start(join(dir.path, 'data'));
  await fleet.publish();
  auditor = await fleet.token('carol', 'auditor');
  a = await fleet.enroll('cli-a', { user: 'alice' });
  await fleet.checkin(a, developerTools('alice'));
});
afterAll(async () => {
  await fleet?.close();
  await dir?.remove();
});

async function aigate(args: string[], token = auditor, dataIsTerminal = false) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runAigate(
    ['--server', fleet.url, '--token', token, ...args],
    { out: (t) => out.push(t), err: (t) => err.push(t) },
    { AIGATE_CONFIG: join(dir.path, 'none.json') },
    { dataIsTerminal },
  );
  return { code, stdout: out.map((line) => `${line}\n`).join(''), stderr: err.join('\n') };
}

describe('aigate report export', () => {
  it('writes exactly what the API serves to standard output', async () => {
    for (const format of ['csv', 'json', 'ndjson']) {
      const result = await aigate(['report', 'export', 'violations', '--format', format]);
      expect(result.code, result.stderr).toBe(0);
      const api = await fleet.report(`/violations?format=${format}`);
      expect(result.stdout).toBe(api.text);
    }
  });

  it('writes to a file with -o, passing the filters on', async () => {
    const file = join(dir.path, 'inventory.csv');
    const result = await aigate([
      'report',
      'export',
      'inventory',
      '--format',
      'csv',
      '--tool',
      'claude-code',
      '--verdict',
      'block',
      '--from',
      '2026-06-01',
      '-o',
      file,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe(`exported the inventory report as CSV to ${file}`);
    const text = await readFile(file, 'utf8');
    expect(text).toBe(
      (await fleet.report('/inventory?format=csv&tool=claude-code&verdict=block&from=2026-06-01')).text,
    );
    expect(text.trimEnd().split('\n')).toHaveLength(3);
    expect((await readdir(dir.path)).filter((name) => name.includes('partial'))).toEqual([]);
  });

  it.each([
    [
      ['report', 'export', 'inventry', '--format', 'csv'],
      2,
      /there is no report "inventry"; choose one of inventory, violations, events, coverage, compliance, usage, policies, audit, attestation$/,
    ],
    [['report', 'export', 'inventory'], 2, /--format <format>' not specified/],
    [['report', 'export', 'inventory', '--format', 'xml'], 2, /Allowed choices are csv, json, ndjson/],
    [
      ['report', 'export', 'events', '--format', 'csv', '--verdict', 'block'],
      2,
      /--verdict does not apply to the events report \(it takes --from, --to, --tool, --group, --user, --device, --type\)/,
    ],
    [
      ['report', 'export', 'inventory', '--format', 'csv', '--tool', 'claude'],
      1,
      /query\.tool: "claude" is not a tool of the catalog; did you mean "claude-code"\?.*\(HTTP 400, invalid_request\)/,
    ],
    [
      ['report', 'export', 'coverage', '--format', 'csv', '--stale-after', 'soon'],
      1,
      /query\.staleAfter: "soon" is not a duration/,
    ],
  ])('%j exits %i with a clear message', async (args, code, message) => {
    const result = await aigate(args);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('lists in --help exactly the reports the server has', () => {
    expect([...REPORT_KIND_NAMES]).toEqual(REPORT_KINDS);
  });

  it('escapes control characters in a CSV printed to a terminal, and only there', async () => {
    // A hostname stored before devices' texts were checked: ESC[2J, an OSC title, a C1 CSI, a bidi override.
    const hostile = 'cli-\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202ebox';
    const raw = new Database(join(dir.path, 'data', DATABASE_FILE));
    try {
      raw.prepare('UPDATE devices SET hostname = ? WHERE id = ?').run(hostile, a.id);
    } finally {
      raw.close();
    }
    const args = ['report', 'export', 'inventory', '--format', 'csv'];
    const piped = await aigate(args);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe((await fleet.report('/inventory?format=csv')).text);
    expect(piped.stdout).toContain(hostile);
    const terminal = await aigate(args, auditor, true);
    expect(terminal.code, terminal.stderr).toBe(0);
    expect(terminal.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(terminal.stdout).toContain('cli-\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202ebox');
    expect(terminal.stdout.split('\n')).toHaveLength(piped.stdout.split('\n').length);
  });

  it('leaves no file behind when the server refuses', async () => {
    const file = join(dir.path, 'refused.csv');
    const result = await aigate(
      ['report', 'export', 'inventory', '--format', 'csv', '-o', file],
      'aigt_' + 'x'.repeat(43),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/unknown token \(HTTP 401, invalid_token\)/);
    await expect(readFile(file)).rejects.toThrow(/ENOENT/);
  });

  it('exits 1 and says so when the audit chain is broken, after writing the report', async () => {
    expect((await aigate(['report', 'export', 'audit', '--format', 'csv'])).code).toBe(0);
    const raw = new Database(join(dir.path, 'data', DATABASE_FILE));
    try {
      raw.exec('DROP TRIGGER audit_log_no_update');
      raw.prepare("UPDATE audit_log SET actor_name = 'someone else' WHERE seq = 2").run();
    } finally {
      raw.close();
    }
    const result = await aigate(['report', 'export', 'audit', '--format', 'csv']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/hash chain is BROKEN at entry 2/);
    expect(result.stdout).toMatch(/^seq,at,actor_id/);
  });
});

describe('aigate report rollup', () => {
  it('rebuilds the rollups for admins, not auditors', async () => {
    const result = await aigate(['report', 'rollup'], fleet.adminToken);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^rollups built in \d+ ms: 1 of 1 days changed, events recounted for 1 days, 0 old events pruned\n$/,
    );
    const refused = await aigate(['report', 'rollup']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/HTTP 403/);
  });
});

describe('aigate-server flags', () => {
  it.each([
    [['--stale-after', 'a week'], /--stale-after: "a week" is not a duration/],
    [['--event-retention', '0d'], /--event-retention: "0d" must be longer than zero/],
    [['--rollup-schedule', 'hourly'], /"hourly" is not a cron expression/],
  ])('%j is refused before anything starts', async (flags, message) => {
    const err: string[] = [];
    const code = await runAigateServer(['start', '--data', join(dir.path, 'unused'), ...flags], {
      out: () => undefined,
      err: (t) => err.push(t),
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });
});
