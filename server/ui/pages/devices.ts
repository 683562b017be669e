/** Devices: a searchable table, and one device with its tools, verdicts, changes and events. */
import type { CatalogIndex } from '../../../policies/catalog/index.js';
import type { HealthReason } from '../../../policies/protocol.js';
import { DEVICE_STATUSES, type DeviceStatus } from '../../reports/filters.js';
import { type DeviceRecord, parseHealthReasons } from '../../store/devices.js';
import type { StoredEvent } from '../../store/events.js';
import type { ExceptionRequestRecord } from '../../store/exception-requests.js';
import type { InventoryStore, StoredInstance } from '../../store/inventory.js';
import { count, noun, plural, relative, utc } from '../format.js';
import { href, type Html, html } from '../html.js';
import { exportButtons, type PageInput, statusBadge, verdictBadge } from '../layout.js';
import type { DeviceListRow, DeviceSearch } from '../queries.js';
import { toolName } from './tools.js';

function users(text: string): string {
  try {
    const list = JSON.parse(text) as unknown;
    return Array.isArray(list) ? list.filter((u) => typeof u === 'string').join(', ') : '';
  } catch {
    return '';
  }
}

/** "degraded" badge with the agent's reasons as its title; nothing for ok or unreported health. */
function healthBadge(health: string | null, reasons: readonly HealthReason[]): Html | string {
  if (health !== 'degraded') return '';
  const title = reasons.map((r) => `${r.code}: ${r.message}`).join('\n') || 'the agent gave no reason';
  return html`<span class="badge health-degraded" title="${title}">degraded</span>`;
}

export function devicesPage(input: {
  search: DeviceSearch;
  rows: DeviceListRow[];
  total: number;
  groups: string[];
  now: number;
}): PageInput {
  const { search, rows, total } = input;
  const pages = Math.max(1, Math.ceil(total / search.pageSize));
  const query = { q: search.q, status: search.status, group: search.group, health: search.health };
  const body = html`
  <form class="card filters" method="get" action="/ui/devices" role="search">
    <div class="field"><label for="q">Search</label><input id="q" name="q" type="search" value="${search.q ?? ''}" placeholder="Hostname, user, group or device id" maxlength="200"></div>
    <div class="field"><label for="status">Status</label><select id="status" name="status" data-autosubmit><option value="">Any</option>${DEVICE_STATUSES.map((s) => html`<option value="${s}"${search.status === s ? html` selected` : ''}>${s.replace('-', ' ')}</option>`)}</select></div>
    <div class="field"><label for="group">Group</label><select id="group" name="group" data-autosubmit><option value="">Any</option>${input.groups.map((g) => html`<option value="${g}"${search.group === g ? html` selected` : ''}>${g}</option>`)}</select></div>
    <div class="field"><label for="health">Agent health</label><select id="health" name="health" data-autosubmit><option value="">Any</option><option value="degraded"${search.health === 'degraded' ? html` selected` : ''}>degraded</option></select></div>
    <div class="field submit"><button type="submit" class="button">Search</button></div>
  </form>
  <section class="card">
    <p class="muted" role="status">${plural(total, 'device')}${search.q || search.status || search.group || search.health ? ` ${noun(total, 'matches', 'match')}` : ''}.</p>
    ${
      rows.length
        ? html`<div class="table-wrap"><table class="data"><caption class="visually-hidden">Devices</caption>
        <thead><tr><th scope="col">Hostname</th><th scope="col">Group</th><th scope="col">Users</th><th scope="col">OS</th><th scope="col">Agent</th><th scope="col">Last check-in</th><th scope="col">Status</th><th scope="col" class="num">AI tools</th><th scope="col" class="num">Violations</th></tr></thead>
        <tbody>${rows.map(
          (row) => html`<tr>
            <th scope="row"><a href="/ui/devices/${row.id}">${row.hostname}</a></th><td>${row.group_name}</td><td>${users(row.users)}</td><td>${row.os}</td><td>${row.agent_version}</td>
            <td>${row.last_checkin_at ? html`${relative(row.last_checkin_at, input.now)}<br><span class="muted">${utc(row.last_checkin_at)}</span>` : 'never'}</td>
            <td>${statusBadge(row.status)} ${healthBadge(row.health, parseHealthReasons(row.health_reasons))}</td><td class="num">${count(row.tools)}</td><td class="num">${violationCell(row)}</td></tr>`,
        )}</tbody></table></div>`
        : html`<p class="empty">No device matches.</p>`
    }
    ${
      pages > 1
        ? html`<nav class="pager" aria-label="Pages">${search.page > 1 ? html`<a class="button secondary small" href="${href('/ui/devices', { ...query, page: search.page - 1 })}" rel="prev">Previous</a>` : ''}
          <span>Page ${search.page} of ${pages}</span>${search.page < pages ? html`<a class="button secondary small" href="${href('/ui/devices', { ...query, page: search.page + 1 })}" rel="next">Next</a>` : ''}</nav>`
        : ''
    }
    <div class="exports">${exportButtons('coverage', { group: search.group, status: search.status })}</div>
  </section>`;
  return { title: 'Devices', section: 'devices', body };
}

/** Violations of a device: blocked in red, warned in amber, each said in words. */
function violationCell(row: Pick<DeviceListRow, 'blocked' | 'warned'>): Html | string {
  if (!row.blocked && !row.warned) return '0';
  return html`${row.blocked ? html`<strong class="text-block">${count(row.blocked)} blocked</strong>` : ''}${row.blocked && row.warned ? html`<br>` : ''}${row.warned ? html`<strong class="text-warn">${count(row.warned)} warned</strong>` : ''}`;
}

const CHANGE_WORDS: Record<string, string> = {
  appeared: 'installed',
  'version-changed': 'version changed',
  disappeared: 'removed',
  'verdict-changed': 'verdict changed',
};

export function devicePage(input: {
  device: DeviceRecord;
  status: DeviceStatus;
  instances: StoredInstance[];
  history: ReturnType<InventoryStore['historyFor']>;
  events: StoredEvent[];
  requests: ExceptionRequestRecord[];
  currentRevision: number | null;
  catalog: CatalogIndex;
  now: number;
}): PageInput {
  const { device, catalog, now } = input;
  const present = input.instances.filter((i) => i.present);
  const removed = input.instances.filter((i) => !i.present);
  const upToDate = input.currentRevision !== null && device.policyRevision === input.currentRevision;
  const body = html`
  <div class="grid-2">
    <section class="card">
      <h2>Device</h2>
      <dl class="facts">
        <dt>Status</dt><dd>${statusBadge(input.status)}</dd>
        <dt>Group</dt><dd>${device.group}</dd>
        <dt>Users</dt><dd>${device.users.join(', ') || '–'}</dd>
        <dt>System</dt><dd>${device.os}${device.osVersion ? ` ${device.osVersion}` : ''}${device.arch ? ` (${device.arch})` : ''}</dd>
        <dt>Agent</dt><dd>${device.agentVersion}</dd>
        <dt>Agent health</dt><dd>${
          device.health === null
            ? html`<span class="muted">not reported</span>`
            : device.health === 'ok'
              ? 'ok'
              : html`${healthBadge(device.health, device.healthReasons)} since ${utc(device.degradedSince)}<ul class="plain health-reasons">${device.healthReasons.map((r) => html`<li><code>${r.code}</code>: ${r.message}</li>`)}</ul>`
        }</dd>
        <dt>Device id</dt><dd><code>${device.id}</code></dd>
      </dl>
    </section>
    <section class="card">
      <h2>Contact</h2>
      <dl class="facts">
        <dt>Enrolled</dt><dd>${utc(device.enrolledAt)}</dd>
        <dt>Last check-in</dt><dd>${device.lastCheckinAt ? html`${utc(device.lastCheckinAt)} <span class="muted">(${relative(device.lastCheckinAt, now)})</span>` : 'never'}</dd>
        <dt>Last contact</dt><dd>${utc(device.lastSeenAt)}</dd>
        <dt>Policy</dt><dd>${device.policyRevision === null ? 'none applied yet' : html`revision ${device.policyRevision} ${upToDate ? html`<span class="badge badge-allow">current</span>` : html`<span class="badge badge-warn">behind (current ${input.currentRevision ?? '–'})</span>`}`}</dd>
        ${device.revokedAt ? html`<dt>Revoked</dt><dd>${utc(device.revokedAt)}</dd>` : ''}
      </dl>
    </section>
  </div>
  <section class="card" aria-labelledby="tools-title">
    <h2 id="tools-title">AI tools (${present.length})</h2>
    ${
      present.length
        ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Tool</th><th scope="col">Version</th><th scope="col">Channel</th><th scope="col">User</th><th scope="col">Path</th><th scope="col">Verdict</th><th scope="col">Decided by</th><th scope="col">Since</th></tr></thead>
        <tbody>${present.map(
          (stored) => html`<tr>
            <th scope="row"><a href="/ui/tools/${encodeURIComponent(stored.instance.toolId)}">${toolName(catalog, stored.instance.toolId)}</a>${stored.instance.running ? html` <span class="badge badge-info">running</span>` : ''}${stored.instance.host ? html`<br><span class="muted">in ${stored.instance.host}</span>` : ''}</th>
            <td>${stored.instance.version ?? html`<span class="muted">unreadable</span>`}</td><td>${stored.instance.channel}</td><td>${stored.instance.owner ?? '–'}</td><td><code class="path">${stored.instance.installPath}</code></td>
            <td>${verdictBadge(stored.verdict?.action, stored.verdict?.enforce ?? null)}${stored.verdict?.phase === 'warn-window' && stored.verdict.effectiveAt ? html`<br><span class="muted">${stored.verdict.upcomingAction ?? 'changes'} from ${utc(stored.verdict.effectiveAt)}</span>` : ''}</td>
            <td>${stored.verdict?.decidedBy.name ?? '–'}</td>
            <td>${stored.violationSince ? html`${utc(stored.violationSince)}<br><span class="muted">${relative(stored.violationSince, now)}</span>` : html`<span class="muted">first seen ${utc(stored.firstSeenAt)}</span>`}</td></tr>`,
        )}</tbody></table></div>`
        : html`<p class="empty">${device.lastCheckinAt ? 'No AI tool was found on this device.' : 'This device has not checked in yet.'}</p>`
    }
    ${
      removed.length
        ? html`<details><summary>Removed (${removed.length})</summary><ul class="plain">${removed.map((s) => html`<li>${toolName(catalog, s.instance.toolId)} ${s.instance.version ?? ''} at <code class="path">${s.instance.installPath}</code>, removed ${utc(s.disappearedAt)}</li>`)}</ul></details>`
        : ''
    }
  </section>
  <div class="grid-2">
    <section class="card" aria-labelledby="events-title">
      <h2 id="events-title">Recent events</h2>
      ${
        input.events.length
          ? html`<ol class="timeline">${input.events.map(
              (event) =>
                html`<li><span class="event event-${event.type}">${event.type.replace('-', ' ')}</span> ${event.toolId ? toolName(catalog, event.toolId) : ''} <span class="muted">${utc(event.at)}</span>${event.user ? html` · ${event.user}` : ''}${event.message ? html`<br><span class="muted">${event.message}</span>` : ''}</li>`,
            )}</ol>`
          : html`<p class="empty">No events reported.</p>`
      }
    </section>
    <section class="card" aria-labelledby="changes-title">
      <h2 id="changes-title">Changes</h2>
      ${
        input.history.length
          ? html`<ol class="timeline">${input.history
              .slice(0, 50)
              .map(
                (change) =>
                  html`<li>${toolName(catalog, change.toolId)} <strong>${CHANGE_WORDS[change.change] ?? change.change}</strong>${change.change === 'version-changed' ? ` ${change.oldVersion ?? '?'} → ${change.newVersion ?? '?'}` : ''}${change.change === 'verdict-changed' ? ` ${change.oldAction ?? 'none'} → ${change.newAction ?? 'none'}` : ''} <span class="muted">${utc(change.at)}</span></li>`,
              )}</ol>`
          : html`<p class="empty">No changes recorded.</p>`
      }
    </section>
  </div>
  ${
    input.requests.length
      ? html`<section class="card"><h2>Exception requests</h2><div class="table-wrap"><table class="data"><thead><tr><th scope="col">Requested</th><th scope="col">Tool</th><th scope="col">Reason</th><th scope="col">Status</th></tr></thead>
      <tbody>${input.requests.map((r) => html`<tr><td>${utc(r.requestedAt)}</td><td>${toolName(catalog, r.toolId)}</td><td>${r.reason}</td><td><a href="/ui/exceptions?status=${r.status}">${r.status}</a>${r.policyRevision ? ` (revision ${r.policyRevision})` : ''}</td></tr>`)}</tbody></table></div></section>`
      : ''
  }
  <section class="card"><h2>Exports for this device</h2><div class="exports">${exportButtons('inventory', { device: device.id })}${exportButtons('violations', { device: device.id })}${exportButtons('events', { device: device.id })}</div></section>`;
  return {
    title: device.hostname,
    section: 'devices',
    subheading: html`${device.group} · ${plural(present.length, 'AI tool')} · <a href="/ui/devices">all devices</a>`,
    body,
  };
}
