/** Reports: every report with its columns, filters and download buttons; plus sign-in and error pages. */
import type { ReportDefinition } from '../../reports/definition.js';
import { DEVICE_STATUSES, type FilterName } from '../../reports/filters.js';
import { EVENT_TYPES } from '../../store/events.js';
import { type Html, html } from '../html.js';
import type { Notice, PageInput } from '../layout.js';

function filterField(kind: string, filter: FilterName): Html {
  const id = `${kind}-${filter}`;
  const text = (label: string, placeholder: string) =>
    html`<div class="field"><label for="${id}">${label}</label><input id="${id}" name="${filter}" placeholder="${placeholder}" maxlength="300"></div>`;
  const choice = (label: string, options: readonly string[]) =>
    html`<div class="field"><label for="${id}">${label}</label><select id="${id}" name="${filter}"><option value="">Any</option>${options.map((o) => html`<option value="${o}">${o}</option>`)}</select></div>`;
  switch (filter) {
    case 'from':
      return text('From', 'YYYY-MM-DD');
    case 'to':
      return text('To (inclusive date)', 'YYYY-MM-DD');
    case 'tool':
      return text('Tool', 'claude-code');
    case 'group':
      return text('Group', 'engineering');
    case 'user':
      return text('User', 'alice');
    case 'device':
      return text('Device', 'hostname or id');
    case 'verdict':
      return choice('Verdict', kind === 'violations' ? ['warn', 'block'] : ['allow', 'warn', 'block', 'none']);
    case 'present':
      return choice('Installed', ['true', 'false']);
    case 'type':
      return choice('Event type', EVENT_TYPES);
    case 'status':
      return choice('Status', DEVICE_STATUSES);
    case 'staleAfter':
      return text('Stale after', '7d');
    case 'by':
      return html`<div class="field"><label for="${id}">Per</label><select id="${id}" name="by"><option value="group">group</option><option value="os">operating system</option></select></div>`;
    default:
      return html``;
  }
}

export function reportsPage(reports: readonly ReportDefinition[]): PageInput {
  const body = html`<div class="reports">${reports.map(
    (report) => html`<section class="card report" aria-labelledby="report-${report.kind}">
      <h2 id="report-${report.kind}">${report.title}</h2>
      <p>${report.summary}.</p>
      ${
        report.document
          ? html`<p><a class="button" href="/ui/${report.kind}" data-open="${report.kind}">Open the ${report.title.toLowerCase()} page</a></p><p class="muted">Choose the instant there, read it, and download it signed (JSON only: CSV or NDJSON would not be signed).</p>`
          : html`<form method="get" action="/ui/export/${report.kind}" class="report-form">
        ${report.filters.length ? html`<fieldset><legend>Filters (all optional)</legend><div class="filter-grid">${report.filters.map((f) => filterField(report.kind, f))}</div></fieldset>` : ''}
        <div class="field-row">
          <div class="field narrow"><label for="${report.kind}-format">Format</label><select id="${report.kind}-format" name="format"><option value="csv">CSV</option><option value="json">JSON</option><option value="ndjson">NDJSON</option></select></div>
          <button type="submit" class="button" data-export="${report.kind}">Download ${report.title.toLowerCase()}</button>
        </div>
      </form>`
      }
      <details><summary>Columns</summary><p class="muted">${report.description}</p><dl class="columns">${report.columns.map((c) => html`<dt><code>${c.name}</code> <span class="muted">${c.type}</span></dt><dd>${c.description}</dd>`)}</dl></details>
    </section>`,
  )}</div>`;
  return {
    title: 'Reports',
    section: 'reports',
    subheading: html`Exports stream straight from the database; CSV cells that a spreadsheet would run as formulas start with an apostrophe. The same reports are at <code>/v1/reports</code> and <code>aigate report export</code>.`,
    body,
  };
}

export function loginPage(input: { loginCsrf: string; next: string; notice?: Notice | null }): PageInput {
  const body = html`<section class="card login">
    <form method="post" action="/ui/login" class="stack">
      <input type="hidden" name="csrf" value="${input.loginCsrf}">
      <input type="hidden" name="next" value="${input.next}">
      <div class="field"><label for="token">Admin or auditor token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required maxlength="200" aria-describedby="token-help" autofocus>
        <p id="token-help" class="muted">A token starting with <code>aigt_</code>, from <code>aigate tokens create</code>. It is checked once; the browser keeps only a session cookie, never the token.</p></div>
      <button type="submit" class="button">Sign in</button>
    </form>
  </section>`;
  return { title: 'Sign in', section: 'login', body, notice: input.notice ?? null };
}

export function errorPage(status: number, message: string): PageInput {
  const titles: Record<number, string> = {
    400: 'That request is not right',
    403: 'Not allowed',
    404: 'Not found',
    409: 'Already done',
    429: 'Too many requests',
    500: 'Something went wrong',
  };
  return {
    title: titles[status] ?? `Error ${status}`,
    section: 'error',
    body: html`<section class="card"><p>${message}</p><p><a href="/ui">Back to the overview</a></p></section>`,
    notice: null,
  };
}
