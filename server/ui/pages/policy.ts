/** Policy: the current revision, its history with what changed, and the impact of a draft. */
import type { CatalogIndex } from '../../../policies/catalog/index.js';
import type { Problem } from '../../../policies/load.js';
import type { PreviewResult } from '../../services/preview.js';
import type { PolicyRevision, PolicyRevisionSummary } from '../../store/policies.js';
import { diffLines, hunks } from '../diff.js';
import { count, noun, plural, utc } from '../format.js';
import { type Html, html } from '../html.js';
import { exportButtons, type PageInput, verdictBadge } from '../layout.js';
import { toolName } from './tools.js';

function revisionNote(r: PolicyRevisionSummary): Html {
  if (r.rollbackOf) return html`rollback to revision ${r.rollbackOf}`;
  if (r.exceptionRequest) return html`approved <a href="/ui/exceptions?status=approved">exception request</a>`;
  return html`${r.comment ?? ''}`;
}

function sourceBlock(source: string, label: string): Html {
  return html`<pre class="source" tabindex="0" aria-label="${label}"><code>${source}</code></pre>`;
}

export interface PreviewView {
  source: string;
  at: string;
  result?: PreviewResult & { warnings: Problem[] };
  errors?: Problem[];
  error?: string;
}

function previewResult(view: PreviewView, catalog: CatalogIndex): Html {
  if (view.error) return html`<div class="notice notice-error" role="alert">${view.error}</div>`;
  if (view.errors) {
    return html`<div class="notice notice-error" role="alert"><p>The draft is not a valid policy:</p><ul>${view.errors.map(
      (p) =>
        html`<li><code>${p.path || '(document)'}</code>${p.line ? ` line ${p.line}${p.column ? `, column ${p.column}` : ''}` : ''}: ${p.message}</li>`,
    )}</ul></div>`;
  }
  const result = view.result;
  if (!result) return html``;
  const rows = result.rows.filter((row) => row.action !== 'allow' || row.changed > 0);
  return html`<section class="preview-result" aria-labelledby="preview-result-title" tabindex="-1" id="preview-result">
    <h3 id="preview-result-title">Impact of “${result.policy.name}” at ${utc(result.at)}${result.policy.mode === 'monitor' ? ' (monitor mode: reported only)' : ''}</h3>
    <p>Over ${plural(result.devices, 'active device')} and ${plural(result.instances, 'install')}:
      <strong data-preview="block-devices" class="text-block">${count(result.totals.block.devices)}</strong> ${noun(result.totals.block.devices, 'device')} would have a tool blocked (${plural(result.totals.block.users, 'user')}),
      <strong data-preview="warn-devices" class="text-warn">${count(result.totals.warn.devices)}</strong> a tool warned about.</p>
    ${result.warnings.length ? html`<ul class="warnings">${result.warnings.map((w) => html`<li>Warning: <code>${w.path}</code> ${w.message}</li>`)}</ul>` : ''}
    ${
      rows.length
        ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Tool</th><th scope="col">Outcome</th><th scope="col" class="num">Devices</th><th scope="col" class="num">Users</th><th scope="col" class="num">Installs</th><th scope="col" class="num">Changed from now</th></tr></thead>
        <tbody>${rows.map(
          (
            row,
          ) => html`<tr><th scope="row">${toolName(catalog, row.toolId)}</th><td>${verdictBadge(row.action)}${row.phase === 'warn-window' && row.upcomingAction ? html` then ${row.upcomingAction} from ${utc(row.effectiveAt)}` : row.effectiveAt ? html` since ${utc(row.effectiveAt)}` : ''}</td>
            <td class="num">${count(row.devices)}</td><td class="num">${count(row.users)}</td><td class="num">${count(row.instances)}</td><td class="num">${count(row.changed)}</td></tr>`,
        )}</tbody></table></div>`
        : html`<p class="empty">Nothing would be warned or blocked, and no verdict would change.</p>`
    }
  </section>`;
}

export function policyPage(input: {
  current: PolicyRevision | undefined;
  history: PolicyRevisionSummary[];
  catalog: CatalogIndex;
  csrf: string;
  preview?: PreviewView;
}): PageInput {
  const { current } = input;
  const previewSource = input.preview?.source ?? current?.source ?? '';
  const body = html`
  ${
    current
      ? html`<section class="card" aria-labelledby="current-title">
      <h2 id="current-title">Current: revision <span data-current-revision>${current.revision}</span></h2>
      <dl class="facts inline">
        <dt>Name</dt><dd>${current.name}</dd>
        <dt>Mode</dt><dd>${current.document.spec.mode ?? 'enforce'}</dd>
        <dt>Published</dt><dd>${utc(current.publishedAt)} by ${current.publishedBy ?? '–'}</dd>
        <dt>Rules</dt><dd>${plural(current.document.spec.rules?.length ?? 0, 'rule')}, ${plural(current.document.spec.exceptions?.length ?? 0, 'exception')}</dd>
        <dt>SHA-256</dt><dd><code>${current.sha256.slice(0, 16)}…</code></dd>
      </dl>
      ${current.comment ? html`<p>${current.comment}</p>` : ''}
      <details><summary>Policy source (${current.sourceFormat.toUpperCase()})</summary>${sourceBlock(current.source, `Source of revision ${current.revision}`)}</details>
    </section>`
      : html`<section class="card"><p class="empty">No policy has been published yet. Publish one with <code>aigate policy publish FILE</code>.</p></section>`
  }
  <section class="card" aria-labelledby="history-title">
    <h2 id="history-title">History</h2>
    ${
      input.history.length
        ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Revision</th><th scope="col">Name</th><th scope="col">Published</th><th scope="col">By</th><th scope="col">Note</th><th scope="col">Changes</th></tr></thead>
        <tbody>${input.history.map(
          (
            r,
          ) => html`<tr><th scope="row">${r.revision}${current?.revision === r.revision ? html` <span class="badge badge-allow">current</span>` : ''}</th><td>${r.name}</td><td>${utc(r.publishedAt)}</td><td>${r.publishedBy ?? '–'}</td><td>${revisionNote(r)}</td>
            <td><a href="/ui/policy/revisions/${r.revision}">${r.revision === 1 ? 'view' : `compare with ${r.revision - 1}`}</a></td></tr>`,
        )}</tbody></table></div>`
        : html`<p class="empty">No revisions yet.</p>`
    }
    <div class="exports">${exportButtons('policies')}</div>
  </section>
  <section class="card" aria-labelledby="preview-title">
    <h2 id="preview-title">Preview a draft</h2>
    <p class="muted">Paste a policy to see what it would warn about or block across the latest inventory of every active device, with the same evaluator the agents run. Nothing is published.</p>
    <form method="post" action="/ui/policy/preview#preview-result" class="stack">
      <input type="hidden" name="csrf" value="${input.csrf}">
      <div class="field"><label for="source">Draft policy (YAML or JSON)</label><textarea id="source" name="source" rows="16" spellcheck="false" required>${previewSource}</textarea></div>
      <div class="field narrow"><label for="at">Evaluate at <span class="muted">(optional date or instant, UTC)</span></label><input id="at" name="at" value="${input.preview?.at ?? ''}" placeholder="2026-07-10" maxlength="40"></div>
      <div><button type="submit" class="button">Preview impact</button></div>
    </form>
    ${input.preview ? previewResult(input.preview, input.catalog) : ''}
  </section>`;
  return { title: 'Policy', section: 'policy', body };
}

export function revisionPage(input: {
  revision: PolicyRevision;
  previous: PolicyRevision | undefined;
  currentRevision: number | null;
}): PageInput {
  const { revision, previous } = input;
  let changes: Html;
  if (!previous)
    changes = html`<p class="muted">The first revision.</p>${sourceBlock(revision.source, `Source of revision ${revision.revision}`)}`;
  else {
    const lines = diffLines(previous.source, revision.source);
    if (lines === null)
      changes = html`<p class="muted">Too large to compare line by line.</p>${sourceBlock(revision.source, `Source of revision ${revision.revision}`)}`;
    else {
      const groups = hunks(lines);
      const added = lines.filter((l) => l.kind === 'add').length;
      const removedCount = lines.filter((l) => l.kind === 'remove').length;
      changes = groups.length
        ? html`<p><span class="diff-add-count">+${added}</span> <span class="diff-remove-count">−${removedCount}</span> ${noun(added + removedCount, 'line')} compared with revision ${previous.revision}.</p>
          <div class="table-wrap"><table class="diff"><caption class="visually-hidden">Changes from revision ${previous.revision} to ${revision.revision}</caption>
          <thead><tr><th scope="col">${previous.revision}</th><th scope="col">${revision.revision}</th><th scope="col">Line</th></tr></thead>
          ${groups.map(
            (hunk) =>
              html`<tbody>${hunk.lines.map(
                (line) =>
                  html`<tr class="diff-${line.kind}"><td class="ln">${line.oldLine ?? ''}</td><td class="ln">${line.newLine ?? ''}</td><td><span class="visually-hidden">${line.kind === 'add' ? 'added: ' : line.kind === 'remove' ? 'removed: ' : ''}</span><code>${line.kind === 'add' ? '+ ' : line.kind === 'remove' ? '- ' : '  '}${line.text}</code></td></tr>`,
              )}</tbody>`,
          )}</table></div>`
        : html`<p class="muted">Same source as revision ${previous.revision}.</p>`;
    }
  }
  const body = html`<section class="card">
      <dl class="facts inline"><dt>Published</dt><dd>${utc(revision.publishedAt)} by ${revision.publishedBy ?? '–'}</dd><dt>Name</dt><dd>${revision.name}</dd>${revision.comment ? html`<dt>Comment</dt><dd>${revision.comment}</dd>` : ''}<dt>SHA-256</dt><dd><code>${revision.sha256}</code></dd></dl>
    </section>
    <section class="card" aria-labelledby="diff-title"><h2 id="diff-title">What changed</h2>${changes}</section>
    ${previous ? html`<section class="card"><details><summary>Full source of revision ${revision.revision}</summary>${sourceBlock(revision.source, `Source of revision ${revision.revision}`)}</details></section>` : ''}`;
  return {
    title: `Policy revision ${revision.revision}`,
    section: 'policy',
    subheading: html`${input.currentRevision === revision.revision ? 'The current revision · ' : ''}<a href="/ui/policy">all revisions</a>`,
    body,
  };
}
