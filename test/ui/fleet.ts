/**
 * A small, realistic fleet on a real server, created only through the real API: devices
 * enrolled with their own Ed25519 keys, inventories checked in with verdicts from the shared
 * evaluator, events, exception requests, published policies. The server runs on a clock the
 * test moves (device tokens are signed at that clock), so days can pass within a test.
 * Used by the report, rollup and browser tests.
 */
import { randomUUID } from 'node:crypto';

import { builtinCatalog } from '../../policies/catalog/index.js';
import { compilePolicy } from '../../policies/compile.js';
import { evaluate } from '../../policies/evaluate.js';
import type { ToolInstance } from '../../policies/inventory.js';
import { loadPolicy } from '../../policies/load.js';
import { AdminClient } from '../../server/client/admin-client.js';
import type { ServerOptions } from '../../server/config.js';
import { type RunningServer, startServer } from '../server/harness.js';
import { npmInstance } from '../server/helpers.js';
import { DeviceClient, type HttpResult } from '../support/device-client.js';

export const DAY = 86_400_000;
export const HOUR = 3_600_000;

/** Claude Code blocked since 2020; old Codex warned; Gemini CLI blocked from 20 June 2026 with a week's warning. */
export const FLEET_POLICY = `# fleet test policy
apiVersion: aigate/v1
kind: Policy
metadata:
  name: fleet-policy
spec:
  timezone: UTC
  default: allow
  notice:
    contact: https://it.example.com/ai-tools
    alternatives: [qwen-code]
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
      effective: 2026-06-20
      warnFor: 7d
`;

export interface FleetDevice {
  name: string;
  client: DeviceClient;
  id: string;
  group: string;
  hostname: string;
  user: string;
}

export class Clock {
  constructor(public ms: number) {}
  now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export class Fleet {
  readonly admin: AdminClient;
  private secrets = new Map<string, string>();

  private constructor(
    readonly server: RunningServer,
    readonly clock: Clock,
    readonly adminToken: string,
  ) {
    this.admin = new AdminClient(server.url, adminToken);
  }

  static async start(
    dataDir: string,
    start = Date.parse('2026-06-01T08:00:00Z'),
    options: Partial<ServerOptions> = {},
  ): Promise<Fleet> {
    const clock = new Clock(start);
    const server = await startServer(dataDir, { now: clock.now, rollupOnStart: false, ...options });
    if (!server.bootstrapToken) throw new Error('expected a fresh data directory');
    return new Fleet(server, clock, server.bootstrapToken);
  }

  get url(): string {
    return this.server.url;
  }

  async token(name: string, role: 'admin' | 'auditor'): Promise<string> {
    return (await this.admin.post<{ token: string }>('/tokens', { name, role })).token;
  }

  async publish(source = FLEET_POLICY, comment?: string): Promise<number> {
    return (await this.admin.post<{ revision: number }>('/policies', { source, ...(comment ? { comment } : {}) }))
      .revision;
  }

  async currentRevision(): Promise<number> {
    return (await this.admin.get<{ revision: number }>('/policies/current')).revision;
  }

  async enroll(
    name: string,
    options: { group?: string; hostname?: string; user?: string; os?: 'linux' | 'darwin' | 'windows' } = {},
  ): Promise<FleetDevice> {
    const group = options.group ?? 'engineering';
    let secret = this.secrets.get(group);
    if (!secret) {
      secret = (
        await this.admin.post<{ secret: string }>('/enroll-secrets', { group, maxUses: 1000, expiresIn: '3650d' })
      ).secret;
      this.secrets.set(group, secret);
    }
    const client = DeviceClient.generate(this.server.url);
    const hostname = options.hostname ?? name;
    const user = options.user ?? (name.replace(/[^a-z]/g, '') || 'user');
    const result = await client.enroll(secret, {
      hostname,
      os: options.os ?? 'linux',
      osVersion: 'Ubuntu 24.04',
      arch: 'x64',
      users: [user],
      agentVersion: '0.3.1',
    });
    if (result.status !== 201) throw new Error(`enroll ${name}: ${result.status} ${result.text}`);
    return { name, client, id: client.deviceId!, group, hostname, user };
  }

  /** A request signed now on the server's clock. */
  send<T>(device: FleetDevice, method: string, path: string, body?: unknown): Promise<HttpResult<T>> {
    const token = device.client.token({ iat: Math.floor(this.clock.ms / 1000) });
    return device.client.send<T>(method, path, body === undefined ? { token } : { body, token });
  }

  /** Check in an inventory with the verdicts the current policy gives it now (as the agent would). */
  async checkin(
    device: FleetDevice,
    inventory: ToolInstance[],
    options: {
      policyRevision?: number | null;
      withoutVerdicts?: boolean;
      health?: { state: 'ok' | 'degraded'; reasons: { code: string; message: string }[] };
    } = {},
  ): Promise<void> {
    let revision: number | null = null;
    let verdicts: unknown[] = [];
    const current = options.withoutVerdicts
      ? null
      : await this.admin.get<{ revision: number; source: string }>('/policies/current').catch((error: Error) => {
          if (/no policy/.test(error.message)) return null;
          throw error;
        });
    if (current) {
      const loaded = loadPolicy(current.source);
      if (!loaded.ok) throw new Error('the current policy does not load');
      revision = current.revision;
      verdicts = evaluate(
        compilePolicy(loaded.policy, builtinCatalog),
        inventory,
        { os: 'linux', group: device.group, deviceId: device.id, hostname: device.hostname },
        this.clock.ms,
      );
    }
    const result = await this.send(device, 'POST', '/v1/checkin', {
      policyRevision: options.policyRevision === undefined ? revision : options.policyRevision,
      agentVersion: '0.3.1',
      inventory,
      verdicts,
      ...(options.health ? { health: options.health } : {}),
    });
    if (result.status !== 200) throw new Error(`check-in ${device.name}: ${result.status} ${result.text}`);
  }

  async events(
    device: FleetDevice,
    events: {
      type: string;
      at: number;
      toolId?: string;
      installPath?: string;
      version?: string;
      user?: string;
      message?: string;
      details?: Record<string, string | number | boolean | null>;
    }[],
  ): Promise<void> {
    const result = await this.send(device, 'POST', '/v1/events', {
      events: events.map(({ at, ...event }) => ({ id: randomUUID(), at: new Date(at).toISOString(), ...event })),
    });
    if (result.status !== 200) throw new Error(`events ${device.name}: ${result.status} ${result.text}`);
  }

  async requestException(
    device: FleetDevice,
    toolId: string,
    reason: string,
    extra: { installPath?: string; user?: string } = {},
  ): Promise<string> {
    const result = await this.send<{ id: string }>(device, 'POST', '/v1/exception-requests', {
      toolId,
      reason,
      ...extra,
    });
    if (result.status !== 201) throw new Error(`exception request ${device.name}: ${result.status} ${result.text}`);
    return result.body.id;
  }

  /** GET a /v1/reports path with a bearer token; returns status, headers and text. */
  async report(path: string, token = this.adminToken): Promise<{ status: number; headers: Headers; text: string }> {
    const response = await fetch(`${this.server.url}/v1/reports${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  async json<T>(path: string, token = this.adminToken): Promise<T> {
    const result = await this.report(path, token);
    if (result.status !== 200) throw new Error(`GET /v1/reports${path}: ${result.status} ${result.text}`);
    return JSON.parse(result.text) as T;
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** A typical developer machine: Claude Code (npm, and native running), old Codex, Qwen Code, Gemini CLI. */
export function developerTools(user: string, options: { claudeRunning?: boolean } = {}): ToolInstance[] {
  return [
    npmInstance('claude-code', '@anthropic-ai/claude-code', '2.1.91', user),
    {
      toolId: 'claude-code',
      name: 'Claude Code (native)',
      version: '2.1.92',
      channel: 'native',
      installPath: `/home/${user}/.local/share/claude/versions/2.1.92`,
      launchers: [`/home/${user}/.local/bin/claude`],
      owner: user,
      evidence: [`/home/${user}/.local/share/claude/versions/2.1.92`],
      running: options.claudeRunning ?? false,
    },
    npmInstance('openai-codex-cli', '@openai/codex', '0.155.0', user),
    npmInstance('qwen-code', '@qwen-code/qwen-code', '0.4.1', user),
    npmInstance('gemini-cli', '@google/gemini-cli', '0.21.0', user),
  ];
}

/** RFC 4180 CSV to rows of cells (quoted fields, doubled quotes, line breaks inside quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** CSV text to objects keyed by the header line. */
export function csvObjects(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  return rows.map((cells) => Object.fromEntries(header.map((name, i) => [name, cells[i] ?? ''])));
}
