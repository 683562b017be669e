/** The overview: the fleet at a glance, from the same figures as GET /v1/reports/overview. */
import { formatInZone } from '../../../policies/time.js';
import type { Overview } from '../../reports/overview.js';
import { dataTable, legend, lineChart, stackedBars } from '../charts.js';
import { count, describeChange, longDate, noun, percent, plural, relative, utc } from '../format.js';
import { href, type Html, html } from '../html.js';
import { asOf, exportButtons, type PageInput } from '../layout.js';

/** A key figure; `tone` colours its value by what it means (blocked red, warned amber, compliant green). */
type ComplianceRow = Overview['complianceBy']['group'][number];

/** A share and how it moved since an earlier share: "83% (+8 pts)". */
function shareCell(now: number | null, before: number | null): Html | string {
  if (before === null) return html`<span class="muted">–</span>`;
  const points = now === null ? null : Math.round((now - before) * 100);
  return html`${percent(before, 0)}${points === null || points === 0 ? '' : html` <span class="${points > 0 ? 'text-allow' : 'text-block'}">(${now! > before ? '+' : '−'}${Math.abs(points)} pts now)</span>`}`;
}

/** A small table of compliance per group or per OS, trend columns only where the rollups have them. */
function complianceTable(
  id: string,
  label: string,
  rows: readonly ComplianceRow[],
  trendDays: readonly (string | null)[] | null,
): Html {
  if (!rows.length) return html`<p class="empty">No enrolled device yet.</p>`;
  return html`<div class="table-wrap"><table class="data" data-compliance="${id}"><caption class="visually-hidden">Compliance by ${label}</caption>
    <thead><tr><th scope="col">${label === 'group' ? 'Group' : 'OS'}</th><th scope="col" class="num">Devices</th><th scope="col" class="num">Compliant</th>${
      trendDays
        ? html`<th scope="col" class="num" title="${trendDays[0] ?? 'no rollup'}">7 days ago</th><th scope="col" class="num" title="${trendDays[1] ?? 'no rollup'}">30 days ago</th>`
        : ''
    }<th scope="col" class="num">With a blocked tool</th><th scope="col" class="num">With a warned tool</th><th scope="col" class="num">Degraded</th></tr></thead>
    <tbody>${rows.map(
      (
        r,
      ) => html`<tr data-key="${r.key}"><th scope="row">${label === 'group' ? html`<a href="${href('/ui/devices', { group: r.key })}">${r.key}</a>` : r.key}<br><span class="muted">${plural(r.devices, 'device')}, ${count(r.active)} active</span></th>
        <td class="num">${count(r.devices)}</td>
        <td class="num"><span class="${r.share === null ? '' : r.share === 1 ? 'text-allow' : ''}" data-share>${percent(r.share, 0)}</span><br><span class="muted">${count(r.compliant)} of ${count(r.reporting)}</span></td>
        ${trendDays ? html`<td class="num">${shareCell(r.share, r.trend[0] ?? null)}</td><td class="num">${shareCell(r.share, r.trend[1] ?? null)}</td>` : ''}
        <td class="num">${r.withBlock ? html`<strong class="text-block">${count(r.withBlock)}</strong>` : '0'}</td>
        <td class="num">${r.withWarn ? html`<strong class="text-warn">${count(r.withWarn)}</strong>` : '0'}</td>
        <td class="num">${r.degraded ? html`<strong class="text-block">${count(r.degraded)}</strong>` : '0'}</td></tr>`,
    )}</tbody></table></div>`;
}

function kpi(
  id: string,
  label: string,
  value: string,
  detail: Html | string,
  link?: string,
  tone?: 'allow' | 'warn' | 'block',
): Html {
  const body = html`<p class="kpi-label">${label}</p><p class="kpi-value${tone ? ` text-${tone}` : ''}" data-kpi="${id}">${value}</p><p class="kpi-detail">${detail}</p>`;
  return html`<section class="card kpi" aria-label="${label}">${link ? html`<a class="kpi-link" href="${link}">${body}</a>` : body}</section>`;
}

/**
 * The overview page. Every figure says what it is as of: the key figures and the compliance
 * tables are live (`now`), the charts, trends and the next change come from the rollups (`data.asOf`).
 */
export function overviewPage(data: Overview, now: number, canRefresh: boolean, csrf: string): PageInput {
  const { devices, compliance, launches } = data;
  const rollups = asOf('rollups', data.asOf);
  // Rollups of an older revision (a policy just published) say nothing of the current one.
  const pending = data.policy !== null && data.upcomingPolicyRevision !== data.policy.revision;
  const next = pending ? null : data.nextChange;
  const nextCard = pending
    ? html`<section class="card callout"><h2>Next scheduled change</h2><p class="callout-text" data-next-change>Being worked out for policy revision ${data.policy!.revision}, published ${relative(data.policy!.publishedAt, now)}: reload in a moment.</p><p class="muted">${rollups}</p></section>`
    : next
      ? html`<section class="card callout" aria-labelledby="next-change-title">
        <h2 id="next-change-title">Next scheduled change</h2>
        <p class="callout-text" data-next-change>${describeChange(next, now)}</p>
        <p class="muted">${longDate(next.at)}, ${utc(next.at).slice(11)}${data.policy && data.policy.timezone !== 'UTC' ? ` (${formatInZone(Date.parse(next.at), data.policy.timezone).slice(0, 16)} ${data.policy.timezone})` : ''} · ${plural(next.instances, 'install')} · policy revision ${data.upcomingPolicyRevision ?? '–'} · ${rollups}</p>
        ${
          data.upcoming.length > 1
            ? html`<details><summary>All ${data.upcoming.length} scheduled changes</summary><div class="table-wrap"><table>
              <thead><tr><th scope="col">When</th><th scope="col">Change</th><th scope="col" class="num">Devices</th><th scope="col" class="num">Installs</th></tr></thead>
              <tbody>${data.upcoming.map(
                (change) =>
                  html`<tr><td>${utc(change.at)}<br><span class="muted">${relative(change.at, now)}</span></td><td>${describeChange(change, now)}</td><td class="num">${count(change.devices)}</td><td class="num">${count(change.instances)}</td></tr>`,
              )}</tbody></table></div></details>`
            : ''
        }
      </section>`
      : html`<section class="card callout"><h2>Next scheduled change</h2><p class="callout-text" data-next-change>${data.policy ? 'No dated rule of the current policy changes a verdict in the coming year.' : 'No policy has been published yet.'}</p>${data.policy ? html`<p class="muted">${rollups}</p>` : ''}</section>`;

  const installSeries = data.charts.installs.map((s) => ({ name: s.name, values: s.values }));
  const complianceSeries = [
    {
      name: 'Compliant devices',
      tone: 'allow' as const,
      values: data.charts.compliance.map((v) => (v === null ? null : Math.round(v * 1000) / 10)),
    },
  ];
  const launchSeries = [
    { name: 'Blocked launches', tone: 'block' as const, values: data.charts.blockedLaunches },
    { name: 'Warned launches', tone: 'warn' as const, values: data.charts.warnedLaunches },
  ];
  const days = data.charts.days;

  const body = html`
  <p class="muted">Key figures: ${asOf('live', now)}.</p>
  <div class="kpis">
    ${kpi('devices-enrolled', 'Devices', count(devices.enrolled), html`<span data-kpi="devices-active">${count(devices.active)}</span> active · <a href="/ui/devices?status=stale"><span data-kpi="devices-stale">${count(devices.stale)}</span> stale</a> · <a href="/ui/devices?status=never-seen"><span data-kpi="devices-never-seen">${count(devices.neverSeen)}</span> never seen</a> · <a href="/ui/devices?health=degraded"${devices.degraded ? html` class="text-block"` : ''}><span data-kpi="devices-degraded">${count(devices.degraded)}</span> degraded</a>`)}
    ${kpi('compliant-share', 'Compliant', percent(compliance.share), html`<span data-kpi="compliant">${count(compliance.compliant)}</span> of <span data-kpi="reporting">${count(compliance.devices)}</span> reporting ${noun(compliance.devices, 'device')} ${noun(compliance.compliant, 'has', 'have')} no warned or blocked tool`, undefined, compliance.share === null ? undefined : 'allow')}
    ${kpi('devices-with-blocked-tool', 'Devices with a banned tool', count(compliance.withBlockedTool), html`and <span class="${compliance.withWarnedTool ? 'text-warn' : ''}">${plural(compliance.withWarnedTool, 'device')}</span> with a warned tool`, href('/ui/export/violations', { format: 'csv', verdict: 'block' }), compliance.withBlockedTool ? 'block' : undefined)}
    ${kpi('blocked-launches-week', 'Blocked launches, last 7 days', count(launches.blocked), html`<span data-kpi="warned-launches-week">${count(launches.warned)}</span> warned ${noun(launches.warned, 'launch', 'launches')}`, undefined, launches.blocked ? 'block' : undefined)}
  </div>
  ${nextCard}
  <div class="grid-2">
    <section class="card" aria-labelledby="compliance-group-title">
      <h2 id="compliance-group-title">Compliance by group</h2>
      <p class="muted">Now: ${asOf('live', now)}. The share 7 and 30 days ago: the last rolled-up day at or before then. Compliant: checked in, no warned or blocked tool installed.</p>
      ${complianceTable('group', 'group', data.complianceBy.group, data.complianceBy.trendDays)}
      <div class="exports">${exportButtons('compliance', { by: 'group' })}</div>
    </section>
    <section class="card" aria-labelledby="compliance-os-title">
      <h2 id="compliance-os-title">Compliance by operating system</h2>
      <p class="muted">Now: ${asOf('live', now)}. The daily rollups are kept per group, so there is no trend per OS.</p>
      ${complianceTable('os', 'os', data.complianceBy.os, null)}
      <div class="exports">${exportButtons('compliance', { by: 'os' })}</div>
    </section>
  </div>
  <div class="grid-2">
    <section class="card" aria-labelledby="installs-title">
      <h2 id="installs-title">Installs per tool</h2>
      <p class="muted">Instances installed at the end of each day, last ${plural(days.length, 'day')}, ${rollups}.</p>
      ${
        installSeries.length
          ? html`${lineChart(days, installSeries, { id: 'installs', title: 'Installs per tool over time', description: `Installed instances per day for ${installSeries.map((s) => s.name).join(', ')}.` })}${legend(installSeries)}${dataTable(days, installSeries)}`
          : html`<p class="empty">No inventory has been rolled up yet.</p>`
      }
    </section>
    <section class="card" aria-labelledby="compliance-title">
      <h2 id="compliance-title">Compliance over time</h2>
      <p class="muted">Share of reporting devices with no warned or blocked tool, per day, ${rollups}.</p>
      ${lineChart(days, complianceSeries, { id: 'compliance', title: 'Compliance over time', description: 'Percentage of reporting devices that are compliant, per day.', yMax: 100, yLabel: (v) => `${Math.round(v)}%` })}
      ${dataTable(days, complianceSeries, (v) => (v === null ? '–' : `${v}%`))}
    </section>
  </div>
  <div class="grid-2">
    <section class="card" aria-labelledby="launches-title">
      <h2 id="launches-title">Launches stopped or warned</h2>
      <p class="muted">Launches the agents blocked or warned about, per day, ${rollups}.</p>
      ${stackedBars(days, launchSeries, { id: 'launches', title: 'Blocked and warned launches per day', description: 'Launches the agents blocked or warned about, per day.' })}
      ${legend(launchSeries)}${dataTable(days, launchSeries)}
    </section>
    <section class="card" aria-labelledby="exports-title">
      <h2 id="exports-title">Exports</h2>
      <p class="muted">Evidence for audits, straight from the database.</p>
      <div class="exports">${exportButtons('violations')}${exportButtons('inventory')}${exportButtons('coverage')}${exportButtons('events')}${exportButtons('audit')}</div>
      <p><a href="/ui/reports">All reports, with filters</a> · <a href="/ui/attestation">Attestation as of an instant, signed</a></p>
    </section>
  </div>`;

  return {
    title: 'Overview',
    section: 'overview',
    subheading: html`${data.policy ? html`Policy <a href="/ui/policy">revision <span data-policy-revision>${data.policy.revision}</span></a> “${data.policy.name}” (${data.policy.mode}) · ` : 'No policy published · '}key figures ${asOf('live', now)} · charts, trends and the next change ${rollups}`,
    actions: canRefresh
      ? html`<form method="post" action="/ui/rollups/run"><input type="hidden" name="csrf" value="${csrf}"><button type="submit" class="button secondary">Refresh figures now</button></form>`
      : null,
    body,
  };
}
