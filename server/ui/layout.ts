/** The page shell: skip link, navigation, who is signed in, notices, main content. */
import type { Asset } from './assets.js';
import { utc } from './format.js';
import { type Html, html, type HtmlValue } from './html.js';
import type { UiSession } from './sessions.js';

export interface Notice {
  kind: 'success' | 'error' | 'info';
  text: HtmlValue;
}

export interface PageInput {
  title: string;
  /** The nav entry to mark as current. */
  section: 'overview' | 'tools' | 'devices' | 'policy' | 'exceptions' | 'reports' | 'login' | 'error';
  body: Html;
  notice?: Notice | null;
  /** Content beside the heading (buttons). */
  actions?: Html | null;
  /** Heading when it differs from the title. */
  heading?: HtmlValue;
  subheading?: HtmlValue;
}

const NAV: { section: PageInput['section']; label: string; path: string }[] = [
  { section: 'overview', label: 'Overview', path: '/ui' },
  { section: 'tools', label: 'Tools', path: '/ui/tools' },
  { section: 'devices', label: 'Devices', path: '/ui/devices' },
  { section: 'policy', label: 'Policy', path: '/ui/policy' },
  { section: 'exceptions', label: 'Exceptions', path: '/ui/exceptions' },
  { section: 'reports', label: 'Reports', path: '/ui/reports' },
];

export class Layout {
  constructor(private readonly assets: Map<string, Asset>) {}

  private asset(name: string): string {
    const asset = this.assets.get(name);
    return asset ? `/ui/static/${name}?v=${asset.hash}` : `/ui/static/${name}`;
  }

  render(session: UiSession | null, input: PageInput, extras: { pending?: number } = {}): string {
    const nav = session
      ? html`<nav class="nav" aria-label="Dashboard sections"><ul>${NAV.map(
          (item) =>
            html`<li><a href="${item.path}"${item.section === input.section ? html` aria-current="page"` : ''}>${item.label}${
              item.section === 'exceptions' && extras.pending
                ? html` <span class="count" aria-label="${extras.pending} pending">${extras.pending}</span>`
                : ''
            }</a></li>`,
        )}</ul></nav>
        <div class="who">
          <span>Signed in as <strong>${session.token.name}</strong> <span class="role role-${session.token.role}">${session.token.role}</span></span>
          <form method="post" action="/ui/logout"><input type="hidden" name="csrf" value="${session.csrf}"><button type="submit" class="link">Sign out</button></form>
        </div>`
      : '';
    const notice = input.notice
      ? html`<div class="notice notice-${input.notice.kind}" role="${input.notice.kind === 'error' ? 'alert' : 'status'}">${input.notice.text}</div>`
      : '';
    const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${input.title} · aigate</title>
<link rel="icon" href="${this.asset('favicon.svg')}" type="image/svg+xml">
<link rel="stylesheet" href="${this.asset('app.css')}">
<script src="${this.asset('app.js')}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/ui"><img src="${this.asset('favicon.svg')}" alt="" width="24" height="24"> aigate</a>
  ${nav}
</header>
<main id="main" tabindex="-1">
  <div class="page-head">
    <div><h1>${input.heading ?? input.title}</h1>${input.subheading ? html`<p class="sub">${input.subheading}</p>` : ''}</div>
    ${input.actions ? html`<div class="actions">${input.actions}</div>` : ''}
  </div>
  ${notice}
  ${input.body}
</main>
<footer class="foot">aigate · times are UTC</footer>
</body>
</html>
`;
    return page.value;
  }
}

/** A verdict as a coloured badge with its word (colour is never the only signal). */
export function verdictBadge(action: string | null | undefined, enforced: boolean | null = true): Html {
  if (!action) return html`<span class="badge badge-none">no verdict</span>`;
  const word = action === 'allow' ? 'allowed' : action === 'warn' ? 'warned' : 'blocked';
  return html`<span class="badge badge-${action}">${word}${enforced === false && action !== 'allow' ? ' (monitor)' : ''}</span>`;
}

export function statusBadge(status: string): Html {
  const words: Record<string, string> = {
    active: 'active',
    stale: 'stale',
    'never-seen': 'never seen',
    revoked: 'revoked',
  };
  return html`<span class="badge status-${status}">${words[status] ?? status}</span>`;
}

/** Download buttons for a report in each format, with its filters. */
export function exportButtons(kind: string, filters: Record<string, string | undefined> = {}, label = 'Export'): Html {
  const query = (format: string) => {
    const params = new URLSearchParams({ format });
    for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
    return `/ui/export/${kind}?${params}`;
  };
  return html`<div class="export" role="group" aria-label="${label} ${kind}"><span class="export-label">${label} ${kind}:</span>
    <a class="button small" href="${query('csv')}" download>CSV</a><a class="button small secondary" href="${query('json')}" download>JSON</a><a class="button small secondary" href="${query('ndjson')}" download>NDJSON</a></div>`;
}

/**
 * What the figures beside it are as of, said the same way on every page: `live` figures were
 * read from the database for this page (at `now`); `rollups` figures come from the daily
 * rollups, last built at `lastRunAt` (an ISO instant, or null when they never ran).
 */
export function asOf(source: 'live', now: number): Html;
export function asOf(source: 'rollups', lastRunAt: string | null): Html;
export function asOf(source: 'live' | 'rollups', at: number | string | null): Html {
  return source === 'live'
    ? html`<span class="as-of" data-as-of="live">live, as of ${utc(at)}</span>`
    : html`<span class="as-of" data-as-of="rollups">from the daily rollups, as of ${at === null ? 'never (they have not run yet)' : utc(at)}</span>`;
}
