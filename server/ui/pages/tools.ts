/** Tools: per tool, installs, devices, versions, verdicts and the trend; one tool in detail. */
import type { CatalogIndex } from '../../../policies/catalog/index.js';
import type { VersionCount } from '../../jobs/current-pass.js';
import { dataTable, legend, lineChart, sparkline } from '../charts.js';
import { count, percent, plural, relative, utc } from '../format.js';
import { type Html, html } from '../html.js';
import { asOf, exportButtons, type PageInput, verdictBadge } from '../layout.js';
import type { ToolInstallRow, ToolSummary } from '../queries.js';

export function toolName(catalog: CatalogIndex, toolId: string): string {
  return (
    catalog.tool(toolId)?.name ??
    (toolId.startsWith('unknown:') ? `${toolId.split(':').slice(2).join(':')} (not in the catalog)` : toolId)
  );
}

function verdictBar(summary: ToolSummary): Html {
  const allowed = Math.max(0, summary.installs - summary.warn - summary.block);
  const total = Math.max(1, summary.installs);
  const parts: [string, number, string][] = [
    ['allow', allowed, 'allowed'],
    ['warn', summary.warn, 'warned'],
    ['block', summary.block, 'blocked'],
  ];
  return html`<div class="verdicts"><svg class="vbar" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">${(() => {
    let x = 0;
    return parts.map(([kind, n]) => {
      const w = (n / total) * 100;
      const rect = html`<rect class="v-${kind}" x="${x}" y="0" width="${w}" height="8"/>`;
      x += w;
      return rect;
    });
  })()}</svg><span class="vtext">${parts.filter(([, n]) => n > 0).map(([, n, word], i) => html`${i ? ' · ' : ''}${count(n)} ${word}`)}</span></div>`;
}

/** Every tool found: installs, devices, versions and verdicts now (live), with its 30-day trend (rollups). */
export function toolsPage(input: {
  tools: ToolSummary[];
  /** Versions per tool from the rollups' last pass (reading them live for every tool is slow on a large fleet). */
  versions: Record<string, VersionCount[]>;
  trends: Map<string, number[]>;
  catalog: CatalogIndex;
  now: number;
  /** When the rollups behind the trends were last built. */
  asOf: string | null;
}): PageInput {
  const { tools, catalog } = input;
  const notFound = catalog.catalog.tools.filter((tool) => !tools.some((t) => t.toolId === tool.id));
  const body = tools.length
    ? html`<section class="card">
      <div class="table-wrap"><table class="data">
        <caption class="visually-hidden">AI tools found on devices</caption>
        <thead><tr><th scope="col">Tool</th><th scope="col" class="num">Installs</th><th scope="col" class="num">Devices</th><th scope="col">Versions (rollups)</th><th scope="col">Verdicts</th><th scope="col">Trend, 30 days (rollups)</th></tr></thead>
        <tbody>${tools.map((t) => {
          const catalogTool = catalog.tool(t.toolId);
          const versions = input.versions[t.toolId] ?? [];
          const versionInstances = versions.reduce((sum, v) => sum + v.instances, 0);
          const trend = input.trends.get(t.toolId) ?? [];
          return html`<tr>
            <th scope="row"><a href="/ui/tools/${encodeURIComponent(t.toolId)}">${toolName(catalog, t.toolId)}</a><br><span class="muted">${catalogTool ? `${catalogTool.vendorName} · ${catalogTool.category}` : t.toolId}</span></th>
            <td class="num">${count(t.installs)}</td>
            <td class="num">${count(t.devices)}</td>
            <td>${versions.length ? html`${plural(versions.length, 'version')}<br><span class="muted">most: ${versions[0]!.version ?? 'unknown'} (${percent(versions[0]!.instances / Math.max(1, versionInstances), 0)})</span>` : '–'}</td>
            <td>${verdictBar(t)}</td>
            <td>${sparkline(trend, `Installs of ${toolName(catalog, t.toolId)} over 30 days: ${trend[0] ?? 0} then ${trend[trend.length - 1] ?? 0}`)}</td>
          </tr>`;
        })}</tbody>
      </table></div>
    </section>
    ${notFound.length ? html`<section class="card"><h2>Not found on any device</h2><p class="muted">${notFound.map((tool, i) => html`${i ? ', ' : ''}<a href="/ui/tools/${tool.id}">${tool.name}</a>`)}</p></section>` : ''}
    <section class="card"><h2>Exports</h2><div class="exports">${exportButtons('usage')}${exportButtons('inventory')}</div></section>`
    : html`<section class="card"><p class="empty">No AI tool is installed on an enrolled device.</p></section>`;
  return {
    title: 'Tools',
    section: 'tools',
    subheading: html`Installs, devices and verdicts: ${asOf('live', input.now)} (devices not revoked). Versions and trends: ${asOf('rollups', input.asOf)}; each tool's page has its versions live.`,
    body,
  };
}

export function toolPage(input: {
  toolId: string;
  catalog: CatalogIndex;
  summary: ToolSummary | null;
  versions: VersionCount[];
  days: string[];
  /** Null before the first day with figures. */
  trend: (number | null)[];
  installs: { rows: ToolInstallRow[]; total: number };
  now: number;
  /** When the rollups behind the trend were last built. */
  asOf: string | null;
}): PageInput {
  const { toolId, catalog, summary } = input;
  const tool = catalog.tool(toolId);
  const series = [{ name: 'Installs', values: input.trend }];
  const body = html`
  <div class="grid-2">
    <section class="card">
      <h2>About</h2>
      <p class="muted">${asOf('live', input.now)}, as the installs listed below.</p>
      <dl class="facts">
        <dt>Id</dt><dd><code>${toolId}</code></dd>
        ${tool ? html`<dt>Vendor</dt><dd>${tool.vendorName}</dd><dt>Kind</dt><dd>${tool.category}</dd>${tool.homepage?.startsWith('https://') ? html`<dt>Home page</dt><dd><a href="${tool.homepage}" rel="noreferrer noopener">${tool.homepage}</a></dd>` : ''}` : html`<dt>Catalog</dt><dd>not in the catalog: found by evidence</dd>`}
        <dt>Installs</dt><dd>${count(summary?.installs ?? 0)} on ${plural(summary?.devices ?? 0, 'device')}</dd>
        <dt>Verdicts</dt><dd>${summary ? verdictBar(summary) : '–'}</dd>
      </dl>
    </section>
    <section class="card">
      <h2>Versions</h2>
      <p class="muted">${asOf('live', input.now)}.</p>
      ${
        input.versions.length
          ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Version</th><th scope="col" class="num">Installs</th><th scope="col" class="num">Devices</th></tr></thead>
          <tbody>${input.versions.map((v) => html`<tr><td>${v.version ?? html`<span class="muted">unreadable</span>`}</td><td class="num">${count(v.instances)}</td><td class="num">${count(v.devices)}</td></tr>`)}</tbody></table></div>`
          : html`<p class="empty">Not installed anywhere.</p>`
      }
    </section>
  </div>
  <section class="card" aria-labelledby="trend-title">
    <h2 id="trend-title">Installs over time</h2>
    <p class="muted">Installed instances at the end of each day, ${asOf('rollups', input.asOf)}.</p>
    ${lineChart(input.days, series, { id: 'tool-trend', title: `Installs of ${toolName(catalog, toolId)} over time`, description: `Installed instances per day over the last ${plural(input.days.length, 'day')}.` })}
    ${legend(series)}${dataTable(input.days, series)}
  </section>
  <section class="card">
    <h2>Where it is installed</h2>
    <p class="muted">${asOf('live', input.now)}.</p>
    ${
      input.installs.rows.length
        ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Device</th><th scope="col">User</th><th scope="col">Version</th><th scope="col">Channel</th><th scope="col">Path</th><th scope="col">Verdict</th><th scope="col">Since</th></tr></thead>
        <tbody>${input.installs.rows.map(
          (
            row,
          ) => html`<tr><td><a href="/ui/devices/${row.device_id}">${row.hostname}</a><br><span class="muted">${row.group_name}</span></td><td>${row.owner ?? '–'}</td><td>${row.version ?? '–'}</td><td>${row.channel}</td><td><code class="path">${row.install_path}</code></td>
            <td>${verdictBadge(row.action, row.enforce === null ? null : row.enforce === 1)}</td><td>${row.violation_since ? html`${utc(row.violation_since)}<br><span class="muted">${relative(row.violation_since, input.now)}</span>` : '–'}</td></tr>`,
        )}</tbody></table></div>
        ${input.installs.total > input.installs.rows.length ? html`<p class="muted">Showing ${count(input.installs.rows.length)} of ${count(input.installs.total)} installs; export the inventory for all of them.</p>` : ''}`
        : html`<p class="empty">Not installed on any active device.</p>`
    }
    <div class="exports">${exportButtons('inventory', { tool: toolId })}${exportButtons('violations', { tool: toolId })}${exportButtons('usage', { tool: toolId })}</div>
  </section>`;
  return {
    title: toolName(catalog, toolId),
    section: 'tools',
    subheading: tool ? `${tool.vendorName} · ${tool.category}` : 'A tool outside the catalog',
    body,
  };
}
