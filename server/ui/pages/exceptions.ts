/** Exceptions: requests from employees; admins approve (a new policy revision) or deny; auditors read. */
import type { CatalogIndex } from '../../../policies/catalog/index.js';
import type { ExceptionRequestRecord, RequestStatus } from '../../store/exception-requests.js';
import { plural, relative, utc } from '../format.js';
import { type Html, html } from '../html.js';
import type { PageInput } from '../layout.js';
import { toolName } from './tools.js';

export type StatusFilter = RequestStatus | 'all';

/** A request as the page lists it: with its device's hostname and the approval scope proposed. */
export type ListedRequest = ExceptionRequestRecord & { hostname: string | null; defaultScope: 'device' | 'user' };

function decisionForms(request: ListedRequest, csrf: string, tool: string): Html {
  const id = request.id;
  const who = request.user ?? 'this device';
  return html`<div class="decide">
    <form method="post" action="/ui/exceptions/${id}/approve" class="inline-form" data-confirm="Approve this exception? A new policy revision will be published.">
      <input type="hidden" name="csrf" value="${csrf}">
      <div class="field"><label for="until-${id}">Until</label><input id="until-${id}" name="until" value="${request.requestedUntil ?? ''}" placeholder="no end" maxlength="40"></div>
      <div class="field"><label for="scope-${id}">For</label><select id="scope-${id}" name="scope"><option value="device"${request.defaultScope === 'device' ? html` selected` : ''}>this device (every user)</option>${request.user ? html`<option value="user"${request.defaultScope === 'user' ? html` selected` : ''}>user ${request.user} on this device</option>` : ''}</select></div>
      <button type="submit" class="button approve" aria-label="Approve the request for ${tool} from ${who}">Approve</button>
    </form>
    <form method="post" action="/ui/exceptions/${id}/deny" class="inline-form">
      <input type="hidden" name="csrf" value="${csrf}">
      <div class="field"><label for="reason-${id}">Reason for denying</label><input id="reason-${id}" name="reason" required maxlength="500" placeholder="shown to the employee"></div>
      <button type="submit" class="button danger" aria-label="Deny the request for ${tool} from ${who}">Deny</button>
    </form>
  </div>`;
}

export function exceptionsPage(input: {
  status: StatusFilter;
  requests: ListedRequest[];
  canDecide: boolean;
  csrf: string;
  catalog: CatalogIndex;
  now: number;
}): PageInput {
  const tabs: StatusFilter[] = ['pending', 'approved', 'denied', 'revoked', 'all'];
  const body = html`
  <nav class="tabs" aria-label="Request status"><ul>${tabs.map((tab) => html`<li><a href="/ui/exceptions?status=${tab}"${tab === input.status ? html` aria-current="page"` : ''}>${tab}</a></li>`)}</ul></nav>
  ${!input.canDecide && input.status === 'pending' ? html`<p class="notice notice-info" role="note">You are signed in as an auditor: you can read requests; only admins can approve or deny them.</p>` : ''}
  <section class="card">
    <p class="muted" role="status">${plural(input.requests.length, `${input.status === 'all' ? '' : `${input.status} `}request`)}.</p>
    ${
      input.requests.length
        ? html`<ul class="requests">${input.requests.map(
            (r) => html`<li class="request" data-request="${r.id}">
            <div class="request-head"><h2 class="h3">${toolName(input.catalog, r.toolId)} on <a href="/ui/devices/${r.deviceId}">${r.hostname ?? r.deviceId}</a></h2><span class="badge req-${r.status}">${r.status}</span></div>
            <dl class="facts inline">
              <dt>User</dt><dd>${r.user ?? '–'}</dd>
              <dt>Requested</dt><dd>${utc(r.requestedAt)} (${relative(r.requestedAt, input.now)})</dd>
              ${
                r.status === 'pending'
                  ? html`<dt>Asked until</dt><dd>${r.requestedUntil ?? 'no end given'}</dd>`
                  : r.status === 'denied'
                    ? ''
                    : html`<dt>Until</dt><dd data-approved-until>${r.approvedUntil ?? 'no end'}</dd>`
              }
              ${r.version ? html`<dt>Version</dt><dd>${r.version}</dd>` : ''}
              ${r.installPath ? html`<dt>Path</dt><dd><code class="path">${r.installPath}</code></dd>` : ''}
            </dl>
            <blockquote class="reason">${r.reason}</blockquote>
            ${
              r.status === 'pending'
                ? input.canDecide
                  ? decisionForms(r, input.csrf, toolName(input.catalog, r.toolId))
                  : ''
                : html`<p class="muted">${r.status === 'denied' ? 'Denied' : 'Approved'} by ${r.decidedBy ?? '–'} on ${utc(r.decidedAt)}${r.policyRevision ? html` · published as <a href="/ui/policy/revisions/${r.policyRevision}">policy revision ${r.policyRevision}</a>` : ''}${r.decisionReason ? html` · “${r.decisionReason}”` : ''}</p>${
                    r.status === 'revoked'
                      ? html`<p class="notice notice-error" role="note">Revoked: <a href="/ui/policy/revisions/${r.revokedInRevision ?? ''}">policy revision ${r.revokedInRevision ?? '?'}</a> no longer has this exception (a rollback or an edit removed it) ${r.revokedAt ? html`on ${utc(r.revokedAt)}` : ''}; the policy in force applies again.</p>`
                      : ''
                  }`
            }
          </li>`,
          )}</ul>`
        : html`<p class="empty">No ${input.status === 'all' ? '' : `${input.status} `}exception requests.</p>`
    }
  </section>`;
  return { title: 'Exceptions', section: 'exceptions', body };
}
