/**
 * Attestation as of an instant, for auditors: per device, the tools and versions installed then,
 * what the policy in force said, whether and when the agent had applied it, exceptions in force.
 * It shows the document `aigate report export attestation --at` signs (built by the same
 * server/reports/kinds/attestation.ts), links to the signed download, and says how to verify it.
 */
import type { AttestationDocument, AttestedDevice } from '../../reports/kinds/attestation.js';
import { count, plural, utc } from '../format.js';
import { href, type Html, html } from '../html.js';
import type { Notice, PageInput } from '../layout.js';
import { verdictBadge } from '../layout.js';

/** Devices shown on the page; the signed download always has all of them. */
const ATTESTATION_PAGE_DEVICES = 200;

/** The form's values as given (empty: not given). */
export interface AttestationQuery {
  at: string;
  group: string;
  device: string;
}

const EXAMPLE_AT = '2026-07-10T00:00:00+08:00';

function form(query: AttestationQuery): Html {
  return html`<form class="card stack" method="get" action="/ui/attestation" aria-labelledby="attest-form-title">
    <h2 id="attest-form-title">As of which instant</h2>
    <div class="filter-grid">
      <div class="field"><label for="attest-at">Instant</label>
        <input id="attest-at" name="at" value="${query.at}" placeholder="${EXAMPLE_AT}" maxlength="40" required aria-describedby="attest-at-help"></div>
      <div class="field"><label for="attest-group">Group (optional)</label><input id="attest-group" name="group" value="${query.group}" placeholder="engineering" maxlength="200"></div>
      <div class="field"><label for="attest-device">Device (optional)</label><input id="attest-device" name="device" value="${query.device}" placeholder="hostname or id" maxlength="255"></div>
    </div>
    <p id="attest-at-help" class="muted">An RFC 3339 instant with its offset, such as <code>${EXAMPLE_AT}</code> (midnight in China), or <code>2026-07-10T00:00Z</code>; a bare date such as <code>2026-07-10</code> is its start in UTC.</p>
    <div><button type="submit" class="button">Show the attestation</button></div>
  </form>`;
}

function agentCell(device: AttestedDevice): Html {
  const applied = device.policyApplied;
  const refused = device.policyRefused;
  return html`${
    applied
      ? html`revision ${applied.revision ?? '–'} applied ${utc(applied.at)}${
          device.appliedRevisionInForce === true
            ? html` <span class="badge badge-allow" data-applied="in-force">the revision in force</span>`
            : device.appliedRevisionInForce === false
              ? html` <span class="badge badge-warn" data-applied="older">not the revision in force</span>`
              : ''
        }`
      : html`<span class="muted" data-applied="none">no policy applied reported by then</span>`
  }${refused ? html`<br><span class="text-block">refused revision ${refused.revision ?? '–'} ${utc(refused.at)}${refused.message ? html`: ${refused.message}` : ''}</span>` : ''}`;
}

function deviceSection(device: AttestedDevice): Html {
  const tools = device.tools.length
    ? html`<div class="table-wrap"><table class="data" data-attested-tools="${device.deviceId}">
      <caption class="visually-hidden">Tools installed on ${device.hostname} at the instant</caption>
      <thead><tr><th scope="col">Tool</th><th scope="col">Version</th><th scope="col">Where</th><th scope="col">Policy in force said</th><th scope="col">Agent had reported</th><th scope="col">Quarantine</th></tr></thead>
      <tbody>${device.tools.map(
        (tool) => html`<tr data-tool="${tool.toolId}">
          <th scope="row">${tool.name ?? tool.toolId}<br><span class="muted">${tool.toolId}${tool.vendor ? ` · ${tool.vendor}` : ''}</span></th>
          <td data-version>${tool.version ?? html`<span class="muted">unreadable</span>`}</td>
          <td>${tool.channel}${tool.owner ? ` · ${tool.owner}` : ''}<br><code class="path">${tool.installPath}</code><br><span class="muted">first seen ${utc(tool.firstSeen)}</span></td>
          <td data-policy-said>${
            tool.policy
              ? html`${verdictBadge(tool.policy.action, tool.policy.enforce)}<br><span class="muted">by ${tool.policy.decidedBy}${tool.policy.until ? html`, until ${utc(tool.policy.until)}` : ''}</span>`
              : html`<span class="muted">no policy</span>`
          }</td>
          <td>${tool.agentReported ? html`${verdictBadge(tool.agentReported.action)}<br><span class="muted">${utc(tool.agentReported.at)}${tool.agentReported.policyRevision !== null ? `, revision ${tool.agentReported.policyRevision}` : ''}</span>` : html`<span class="muted">nothing reported</span>`}</td>
          <td>${tool.enforcement ? html`${tool.enforcement.event === 'quarantined' ? html`<span class="text-block">quarantined</span>` : 'restored'} ${utc(tool.enforcement.at)}` : '–'}</td>
        </tr>`,
      )}</tbody></table></div>`
    : html`<p class="empty">No AI tool was installed at that instant (as far as its check-ins tell).</p>`;
  const exceptions = device.exceptions.length
    ? html`<ul class="plain" data-exceptions>${device.exceptions.map(
        (e) =>
          html`<li><strong>${e.name}</strong> for ${e.tools.join(', ')}${e.users ? html` (${plural(e.users.length, 'user')}: ${e.users.join(', ')})` : ''}, from ${utc(e.from)} ${e.until ? html`until ${utc(e.until)}` : 'with no end'}${e.reason ? html` · ${e.reason}` : ''}</li>`,
      )}</ul>`
    : html`<p class="muted" data-exceptions>No exception in force.</p>`;
  return html`<section class="card attested" aria-labelledby="dev-${device.deviceId}" data-device="${device.deviceId}">
    <h2 id="dev-${device.deviceId}"><a href="/ui/devices/${device.deviceId}">${device.hostname}</a></h2>
    <dl class="facts inline">
      <dt>Group</dt><dd>${device.group}</dd><dt>OS</dt><dd>${device.os}</dd>
      <dt>Enrolled</dt><dd>${utc(device.enrolledAt)}</dd><dt>Users</dt><dd>${device.users.join(', ') || '–'}</dd>
      <dt>Agent applied</dt><dd data-agent-applied>${agentCell(device)}</dd>
    </dl>
    <h3 class="h3">Tools installed then</h3>
    ${tools}
    <h3 class="h3">Exceptions in force</h3>
    ${exceptions}
  </section>`;
}

/**
 * The page: the form, and with a result its summary, the signed download and how to verify it,
 * then one section per device (at most ATTESTATION_PAGE_DEVICES).
 */
export function attestationPage(input: {
  query: AttestationQuery;
  document: AttestationDocument | null;
  /** The signed download of the same query. */
  downloadHref: string | null;
  fingerprint: string;
  notice?: Notice | null;
}): PageInput {
  const { document } = input;
  const verify = html`<section class="card" aria-labelledby="verify-title">
    <h2 id="verify-title">Checking a downloaded attestation</h2>
    <p>The download is one JSON file signed with this server's policy key (Ed25519; a detached JWS over the canonical JSON of its <code>attestation</code> member). Anyone can check later that not a byte of its content changed:</p>
    <pre class="source"><code>aigate report verify aigate-attestation-….json
aigate report verify aigate-attestation-….json --policy-key-fingerprint ${input.fingerprint}</code></pre>
    <p class="muted">The first checks it against the key of the server you are logged in to; the second works offline with this server's policy key fingerprint, <code data-fingerprint>${input.fingerprint}</code> (also shown by <code>aigate whoami</code>). Exit code 0: valid; 1: invalid, and it says why.</p>
  </section>`;
  let result: Html | string = '';
  if (document) {
    const shown = document.devices.slice(0, ATTESTATION_PAGE_DEVICES);
    const installs = document.devices.reduce((sum, d) => sum + d.tools.length, 0);
    const policy = document.policy;
    result = html`<section class="card" aria-labelledby="attest-summary-title" data-attestation-at="${document.at}">
      <h2 id="attest-summary-title">As of ${utc(document.at)}</h2>
      <dl class="facts">
        <dt>Instant</dt><dd>${document.atAsGiven} = <span data-at-utc>${document.at}</span></dd>
        <dt>Policy in force</dt><dd data-policy-in-force>${
          policy
            ? html`<a href="/ui/policy/revisions/${policy.revision}">revision ${policy.revision}</a> “${policy.name}” (${policy.mode}), published ${utc(policy.publishedAt)}${policy.publishedBy ? ` by ${policy.publishedBy}` : ''}${policy.evaluationError ? html`<br><span class="text-block">${policy.evaluationError}</span>` : ''}`
            : 'none: no policy had been published by then'
        }</dd>
        <dt>Devices</dt><dd><span data-devices>${count(document.devices.length)}</span> enrolled then, with ${plural(installs, 'install')} of AI tools</dd>
        <dt>Generated</dt><dd>${utc(document.generatedAt)}</dd>
      </dl>
      <p><a class="button" href="${input.downloadHref ?? '#'}" download data-download>Download the signed attestation (JSON)</a></p>
      <details><summary>What this rests on</summary><ul class="plain">${document.sources.map((s) => html`<li>${s}</li>`)}</ul></details>
    </section>
    ${shown.map(deviceSection)}
    ${document.devices.length > shown.length ? html`<p class="muted">Showing ${count(shown.length)} of ${plural(document.devices.length, 'device')}; the signed download has all of them.</p>` : ''}
    ${document.devices.length === 0 ? html`<section class="card"><p class="empty">No device was enrolled at that instant${Object.keys(document.filters).length ? ' with these filters' : ''}.</p></section>` : ''}`;
  }
  return {
    title: 'Attestation',
    section: 'reports',
    subheading: html`What was installed on each device at one instant, what the policy in force said, what the agent had applied, and the exceptions in force: the same document as <code>aigate report export attestation --at</code>, signed by this server.`,
    notice: input.notice ?? null,
    body: html`${form(input.query)}${result}${verify}`,
  };
}

/** The signed download of a query: the dashboard's export of the attestation report. */
export function attestationDownload(query: AttestationQuery): string {
  return href('/ui/export/attestation', { format: 'json', at: query.at, group: query.group, device: query.device });
}
