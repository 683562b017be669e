/**
 * The dashboard at /ui: server-rendered pages over the same stores, services and reports as
 * the API. Signing in exchanges an admin or auditor token for a session cookie (HttpOnly,
 * SameSite=Strict, Secure over HTTPS); every form that changes something carries the session's
 * CSRF token and must come from this origin. A strict Content-Security-Policy allows only this
 * server's own script and stylesheet: no inline code, nothing from elsewhere.
 */
import cookie from '@fastify/cookie';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type TObject, Type } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifyReply, FastifyRequest } from 'fastify';

import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import { loadPolicy, MAX_POLICY_BYTES } from '../../policies/load.js';
import { parseDateOrInstant } from '../../policies/time.js';
import { ApiError, badRequest, forbidden, mapStorageFull, notFound } from '../http/errors.js';
import { formatErrors } from '../http/validation.js';
import type { ReportDefinition } from '../reports/definition.js';
import { DEVICE_STATUSES, type DeviceStatus, deviceStatus, querySchema, type RawQuery } from '../reports/filters.js';
import { type AttestationDocument, attestationReport } from '../reports/kinds/attestation.js';
import { reportByKind, REPORTS } from '../reports/kinds/index.js';
import { REPORT_TIMEOUT_MS, sendReport, sendSignedDocument } from '../reports/service.js';
import { TOKEN_PREFIX } from '../security/secrets.js';
import { defaultScope } from '../services/exception-service.js';
import { guessFormat } from '../services/policy-service.js';
import { previewPolicy } from '../services/preview.js';
import { REQUEST_STATUSES } from '../store/exception-requests.js';
import { loadAssets } from './assets.js';
import { html } from './html.js';
import { Layout, type Notice, type PageInput } from './layout.js';
import { attestationDownload, attestationPage } from './pages/attestation.js';
import { devicePage, devicesPage } from './pages/devices.js';
import { exceptionsPage, type StatusFilter } from './pages/exceptions.js';
import { overviewPage } from './pages/overview.js';
import { policyPage, type PreviewView, revisionPage } from './pages/policy.js';
import { errorPage, loginPage, reportsPage } from './pages/reports.js';
import { toolPage, toolsPage } from './pages/tools.js';
import {
  deviceGroups,
  installTrends,
  pendingExceptionCount,
  searchDevices,
  toolInstalls,
  toolSummaries,
  toolVersions,
} from './queries.js';
import { randomToken, sameSecret, SessionStore, type UiSession } from './sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    ui: UiSession | null;
  }
}

const SESSION_COOKIE = 'aigate_session';
const LOGIN_COOKIE = 'aigate_login';

export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const PAGE_SIZE = 50;

/** Only paths of this dashboard are followed after signing in (no open redirect). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/ui(?:[/?#][^\s\\]*)?$/.test(next) && !next.startsWith('//') ? next : '/ui';
}

const Csrf = Type.String({ minLength: 1, maxLength: 100 });
const LoginBody = Type.Object(
  {
    csrf: Csrf,
    token: Type.String({ minLength: 1, maxLength: 300 }),
    next: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
const CsrfBody = Type.Object({ csrf: Csrf }, { additionalProperties: false });
const ApproveBody = Type.Object(
  {
    csrf: Csrf,
    until: Type.Optional(Type.String({ maxLength: 40 })),
    scope: Type.Optional(Type.Union([Type.Literal('device'), Type.Literal('user')], { description: 'device | user' })),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
const DenyBody = Type.Object(
  { csrf: Csrf, reason: Type.String({ minLength: 1, maxLength: 500, description: 'a reason' }) },
  { additionalProperties: false },
);
const PreviewForm = Type.Object(
  {
    csrf: Csrf,
    source: Type.String({ minLength: 1, maxLength: MAX_POLICY_BYTES }),
    at: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: false },
);
const IdParam = Type.Object(
  { id: Type.String({ format: 'uuid', description: 'a UUID' }) },
  { additionalProperties: false },
);

export const dashboardRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const context = app.aigate;
  const { db, stores, now, options } = context;
  const catalog = catalogIndex(builtinCatalog);
  const assets = loadAssets();
  const layout = new Layout(assets);
  const sessions = new SessionStore(db, stores.tokens, now);

  await app.register(cookie);
  app.decorateRequest('ui', null);

  // Forms post application/x-www-form-urlencoded; a field given twice is refused, not guessed.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: options.bodyLimits.policy },
    (_request, body, done) => {
      const params = new URLSearchParams(body as string);
      const seen = new Set<string>();
      for (const key of params.keys()) {
        if (seen.has(key)) return done(badRequest(`the form field "${key}" was sent more than once`), undefined);
        seen.add(key);
      }
      done(null, Object.fromEntries(params));
    },
  );

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('content-security-policy', UI_CSP);
    if (!request.url.startsWith('/ui/static/')) reply.header('cache-control', 'no-store');
    return payload;
  });

  const render = (reply: FastifyReply, session: UiSession | null, page: PageInput, status = 200) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(layout.render(session, page, session ? { pending: pendingExceptionCount(db) } : {}));

  app.setErrorHandler((thrown: Error & { statusCode?: number }, request, reply) => {
    const error = mapStorageFull(thrown, (full) => context.storage.noteFull(full));
    const status =
      error instanceof ApiError
        ? error.statusCode
        : typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500
          ? error.statusCode
          : 500;
    if (status >= 500) request.log.error({ err: error }, 'dashboard error');
    const message =
      status >= 500 && !(error instanceof ApiError)
        ? `The server could not show this page (request id ${request.id}). The details are in its log.`
        : error.message;
    if ((status === 429 || status === 503) && error instanceof ApiError)
      for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
    return render(reply, request.ui, errorPage(status, message), status);
  });
  app.setNotFoundHandler((request, reply) =>
    render(reply, request.ui, errorPage(404, `There is no page ${request.url.split('?')[0]}.`), 404),
  );

  const cookieOptions = (request: FastifyRequest) => ({
    path: '/ui',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: request.protocol === 'https',
  });

  /** Pages: a session or a trip to the sign-in page. */
  const signedIn = async (request: FastifyRequest, reply: FastifyReply) => {
    request.ui = sessions.resolve(request.cookies[SESSION_COOKIE]);
    if (!request.ui) {
      if (request.cookies[SESSION_COOKIE]) reply.clearCookie(SESSION_COOKIE, cookieOptions(request));
      const next = request.method === 'GET' ? `?next=${encodeURIComponent(request.url)}` : '';
      return reply.code(303).header('location', `/ui/login${next}`).send();
    }
  };
  /** Changes: same origin and the session's CSRF token (checked after the body is parsed). */
  const sameOrigin = (request: FastifyRequest) => {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `${request.protocol}://${request.host}`)
      throw forbidden(`this form was sent from another site (${origin}); it was ignored`);
  };
  const checkCsrf = async (request: FastifyRequest) => {
    sameOrigin(request);
    const sent = (request.body as { csrf?: unknown } | null)?.csrf;
    if (typeof sent !== 'string' || !request.ui || !sameSecret(sent, request.ui.csrf)) {
      throw forbidden('this form has expired or did not come from this dashboard; reload the page and try again');
    }
  };
  const adminOnly = async (request: FastifyRequest) => {
    if (request.ui?.token.role !== 'admin')
      throw forbidden(
        `only admins can do this; you are signed in with the ${request.ui?.token.role ?? 'no'} token "${request.ui?.token.name ?? ''}"`,
      );
  };
  const actor = (request: FastifyRequest) => ({
    id: request.ui!.token.id,
    name: request.ui!.token.name,
    role: request.ui!.token.role,
  });
  const loginLimiter = app.rateLimit({ max: 20, timeWindow: 60_000 });

  // --- static files -----------------------------------------------------------------------
  app.get(
    '/static/:name',
    {
      schema: {
        hide: true,
        params: Type.Object({ name: Type.String({ maxLength: 40 }) }),
        querystring: Type.Object({ v: Type.Optional(Type.String({ maxLength: 40 })) }),
      },
    },
    async (request, reply) => {
      const asset = assets.get(request.params.name);
      if (!asset) throw notFound(`there is no file ${request.params.name}`);
      reply.header('content-type', asset.contentType).header('etag', `"${asset.hash}"`);
      reply.header(
        'cache-control',
        request.query.v === asset.hash ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      if (request.headers['if-none-match'] === `"${asset.hash}"`) return reply.code(304).send();
      return reply.send(asset.body);
    },
  );

  // --- signing in and out -----------------------------------------------------------------
  const showLogin = (
    request: FastifyRequest,
    reply: FastifyReply,
    notice: Notice | null,
    status = 200,
    next = '/ui',
  ) => {
    const loginCsrf = randomToken();
    reply.setCookie(LOGIN_COOKIE, loginCsrf, { ...cookieOptions(request), maxAge: 3600 });
    return render(reply, null, loginPage({ loginCsrf, next, notice }), status);
  };

  app.get(
    '/login',
    {
      schema: {
        hide: true,
        querystring: Type.Object({
          next: Type.Optional(Type.String({ maxLength: 2000 })),
          signedOut: Type.Optional(Type.String({ maxLength: 5 })),
        }),
      },
    },
    async (request, reply) => {
      const next = safeNext(request.query.next);
      if (sessions.resolve(request.cookies[SESSION_COOKIE])) return reply.code(303).header('location', next).send();
      return showLogin(
        request,
        reply,
        request.query.signedOut ? { kind: 'info', text: 'You are signed out.' } : null,
        200,
        next,
      );
    },
  );

  app.post('/login', { onRequest: loginLimiter, schema: { hide: true, body: LoginBody } }, async (request, reply) => {
    sameOrigin(request);
    const next = safeNext(request.body.next);
    const expected = request.cookies[LOGIN_COOKIE];
    if (!expected || !sameSecret(request.body.csrf, expected)) {
      return showLogin(
        request,
        reply,
        { kind: 'error', text: 'The sign-in form expired. Please sign in again.' },
        403,
        next,
      );
    }
    const token = request.body.token.trim();
    const result = token.startsWith(TOKEN_PREFIX) ? stores.tokens.authenticate(token) : null;
    if (!result?.ok) {
      request.log.info({ reason: result ? result.reason : 'format' }, 'dashboard sign-in refused');
      const why =
        result?.ok === false && result.reason === 'revoked'
          ? 'That token has been revoked.'
          : `That is not a valid admin or auditor token (they start with ${TOKEN_PREFIX}).`;
      return showLogin(request, reply, { kind: 'error', text: why }, 401, next);
    }
    const { cookie: value, session } = sessions.create(result.record, request.ip);
    stores.audit.append({
      actor: { id: session.token.id, name: session.token.name, role: session.token.role },
      action: 'dashboard.sign-in',
      target: `token:${session.token.id}`,
      details: {},
      remoteIp: request.ip,
    });
    request.log.info({ by: session.token.name, role: session.token.role }, 'dashboard sign-in');
    reply.clearCookie(LOGIN_COOKIE, cookieOptions(request));
    reply.setCookie(SESSION_COOKIE, value, cookieOptions(request));
    return reply.code(303).header('location', next).send();
  });

  app.post(
    '/logout',
    { onRequest: signedIn, preHandler: checkCsrf, schema: { hide: true, body: CsrfBody } },
    async (request, reply) => {
      const value = request.cookies[SESSION_COOKIE];
      if (value) sessions.destroy(value);
      reply.clearCookie(SESSION_COOKIE, cookieOptions(request));
      return reply.code(303).header('location', '/ui/login?signedOut=1').send();
    },
  );

  // --- overview ----------------------------------------------------------------------------
  app.get(
    '/',
    {
      onRequest: signedIn,
      schema: { hide: true, querystring: Type.Object({ refreshed: Type.Optional(Type.String({ maxLength: 5 })) }) },
    },
    async (request, reply) => {
      const session = request.ui!;
      const page = overviewPage(app.reports.overview(30), now(), session.token.role === 'admin', session.csrf);
      if (request.query.refreshed) page.notice = { kind: 'success', text: 'The figures were rebuilt just now.' };
      return render(reply, session, page);
    },
  );

  app.post(
    '/rollups/run',
    {
      onRequest: signedIn,
      preHandler: [checkCsrf, adminOnly],
      handlerTimeout: REPORT_TIMEOUT_MS,
      schema: { hide: true, body: CsrfBody },
    },
    async (_request, reply) => {
      await app.reports.rollups.runNow();
      return reply.code(303).header('location', '/ui?refreshed=1').send();
    },
  );

  // --- tools -------------------------------------------------------------------------------
  // Installs, devices and verdicts are live; versions (read per tool on its page) and trends
  // come from the rollups, and the page says so.
  app.get('/tools', { onRequest: signedIn, schema: { hide: true } }, async (request, reply) => {
    const { byTool } = installTrends(db, now(), 30);
    return render(
      reply,
      request.ui,
      toolsPage({
        tools: toolSummaries(db),
        versions: app.reports.rollups.current()?.versions ?? {},
        trends: byTool,
        catalog,
        now: now(),
        asOf: app.reports.rollups.status().lastRunAt,
      }),
    );
  });

  app.get(
    '/tools/:id',
    {
      onRequest: signedIn,
      schema: { hide: true, params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) }) },
    },
    async (request, reply) => {
      const toolId = request.params.id;
      const summary = toolSummaries(db, toolId)[0] ?? null;
      if (!catalog.has(toolId) && !summary)
        throw notFound(
          `aigate knows no tool "${toolId}"${catalog.suggest(toolId) ? `; did you mean ${catalog.suggest(toolId)}?` : ''}`,
        );
      const trend = installTrends(db, now(), 90, toolId);
      return render(
        reply,
        request.ui,
        toolPage({
          toolId,
          catalog,
          summary,
          versions: toolVersions(db, toolId),
          days: trend.days,
          trend: (trend.byTool.get(toolId) ?? new Array<number>(trend.days.length).fill(0)).map((n, i) =>
            trend.firstDay === null || trend.days[i]! < trend.firstDay ? null : n,
          ),
          installs: toolInstalls(db, toolId, 200),
          now: now(),
          asOf: app.reports.rollups.status().lastRunAt,
        }),
      );
    },
  );

  // --- devices -----------------------------------------------------------------------------
  const DeviceQuery = Type.Object(
    {
      q: Type.Optional(Type.String({ maxLength: 200 })),
      status: Type.Optional(
        Type.Union([Type.Literal(''), ...DEVICE_STATUSES.map((s) => Type.Literal(s))], {
          description: DEVICE_STATUSES.join(' | '),
        }),
      ),
      group: Type.Optional(Type.String({ maxLength: 200 })),
      health: Type.Optional(
        Type.Union([Type.Literal(''), Type.Literal('degraded')], {
          description: 'degraded: only devices whose agent says so',
        }),
      ),
      page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    },
    { additionalProperties: false },
  );
  app.get(
    '/devices',
    { onRequest: signedIn, schema: { hide: true, querystring: DeviceQuery } },
    async (request, reply) => {
      const q = request.query.q?.trim();
      const search = {
        page: request.query.page ?? 1,
        pageSize: PAGE_SIZE,
        ...(q ? { q } : {}),
        ...(request.query.status ? { status: request.query.status as DeviceStatus } : {}),
        ...(request.query.group ? { group: request.query.group } : {}),
        ...(request.query.health ? { health: request.query.health } : {}),
      };
      const { rows, total } = searchDevices(db, search, now() - options.staleAfterMs);
      return render(reply, request.ui, devicesPage({ search, rows, total, groups: deviceGroups(db), now: now() }));
    },
  );

  app.get('/devices/:id', { onRequest: signedIn, schema: { hide: true, params: IdParam } }, async (request, reply) => {
    const device = stores.devices.get(request.params.id.toLowerCase());
    if (!device) throw notFound(`there is no device ${request.params.id}`);
    const status: DeviceStatus = deviceStatus(device, now() - options.staleAfterMs);
    return render(
      reply,
      request.ui,
      devicePage({
        device,
        status,
        instances: stores.inventory.forDevice(device.id),
        history: stores.inventory.historyFor(device.id, 100),
        events: stores.events.recentForDevice(device.id, 50),
        requests: stores.exceptionRequests.list({ deviceId: device.id }, 50),
        currentRevision: context.channel.current?.revision ?? null,
        catalog,
        now: now(),
      }),
    );
  });

  // --- policy ------------------------------------------------------------------------------
  const policyHistory = () => stores.policies.list(Number.MAX_SAFE_INTEGER, 200);
  app.get('/policy', { onRequest: signedIn, schema: { hide: true } }, async (request, reply) =>
    render(
      reply,
      request.ui,
      policyPage({ current: stores.policies.current(), history: policyHistory(), catalog, csrf: request.ui!.csrf }),
    ),
  );

  app.post(
    '/policy/preview',
    {
      onRequest: signedIn,
      preHandler: checkCsrf,
      bodyLimit: options.bodyLimits.policy,
      schema: { hide: true, body: PreviewForm },
    },
    async (request, reply) => {
      const { source, at } = request.body;
      const view: PreviewView = { source, at: at ?? '' };
      const loaded = loadPolicy(source, { format: guessFormat(source), nowMs: now() });
      if (!loaded.ok) view.errors = loaded.errors;
      else {
        let atMs = now();
        if (at && at.trim()) {
          const parsed = parseDateOrInstant(at.trim(), loaded.policy.spec.timezone ?? 'UTC');
          if (parsed.ok) atMs = parsed.epochMs;
          else view.error = `Evaluate at: ${parsed.error}`;
        }
        if (!view.error)
          view.result = {
            ...previewPolicy(loaded.policy, builtinCatalog, stores.inventory, atMs),
            warnings: loaded.warnings,
          };
      }
      return render(
        reply,
        request.ui,
        policyPage({
          current: stores.policies.current(),
          history: policyHistory(),
          catalog,
          csrf: request.ui!.csrf,
          preview: view,
        }),
        view.errors || view.error ? 400 : 200,
      );
    },
  );

  app.get(
    '/policy/revisions/:revision',
    { onRequest: signedIn, schema: { hide: true, params: Type.Object({ revision: Type.Integer({ minimum: 1 }) }) } },
    async (request, reply) => {
      const revision = stores.policies.get(request.params.revision);
      if (!revision) throw notFound(`there is no policy revision ${request.params.revision}`);
      return render(
        reply,
        request.ui,
        revisionPage({
          revision,
          previous: stores.policies.get(revision.revision - 1),
          currentRevision: context.channel.current?.revision ?? null,
        }),
      );
    },
  );

  // --- exceptions --------------------------------------------------------------------------
  const StatusQuery = Type.Object(
    {
      status: Type.Optional(
        Type.Union([...REQUEST_STATUSES.map((s) => Type.Literal(s)), Type.Literal('all')], {
          description: `${REQUEST_STATUSES.join(' | ')} | all`,
        }),
      ),
      approved: Type.Optional(Type.String({ maxLength: 100 })),
      denied: Type.Optional(Type.String({ maxLength: 100 })),
      revision: Type.Optional(Type.Integer({ minimum: 1 })),
    },
    { additionalProperties: false },
  );
  app.get(
    '/exceptions',
    { onRequest: signedIn, schema: { hide: true, querystring: StatusQuery } },
    async (request, reply) => {
      const status: StatusFilter = request.query.status ?? 'pending';
      const records = stores.exceptionRequests.list(status === 'all' ? {} : { status }, 500);
      const requests = records.map((r) => ({
        ...r,
        hostname: stores.devices.get(r.deviceId)?.hostname ?? null,
        defaultScope:
          r.status === 'pending' ? defaultScope(r, context.exceptions.reports(r.deviceId)).scope : ('device' as const),
      }));
      const page = exceptionsPage({
        status,
        requests,
        canDecide: request.ui!.token.role === 'admin',
        csrf: request.ui!.csrf,
        catalog,
        now: now(),
      });
      if (request.query.approved && request.query.revision) {
        page.notice = {
          kind: 'success',
          text: html`Approved. The exception was added to the policy as <a href="/ui/policy/revisions/${request.query.revision}">revision <span data-approved-revision>${request.query.revision}</span></a>; agents pick it up at their next poll.`,
        };
      } else if (request.query.denied)
        page.notice = { kind: 'success', text: 'Denied. The employee sees the reason in their next check.' };
      return render(reply, request.ui, page);
    },
  );

  app.post(
    '/exceptions/:id/approve',
    {
      onRequest: signedIn,
      preHandler: [checkCsrf, adminOnly],
      schema: { hide: true, params: IdParam, body: ApproveBody },
    },
    async (request, reply) => {
      const body = request.body;
      const input: Parameters<typeof context.exceptions.approve>[1] = { actor: actor(request), remoteIp: request.ip };
      if (body.until?.trim()) input.until = body.until.trim();
      if (body.scope) input.scope = body.scope;
      if (body.reason?.trim()) input.reason = body.reason.trim();
      const result = await context.exceptions.approve(request.params.id.toLowerCase(), input);
      return reply
        .code(303)
        .header(
          'location',
          `/ui/exceptions?status=approved&approved=${result.request.id}&revision=${result.publish.revision}`,
        )
        .send();
    },
  );

  app.post(
    '/exceptions/:id/deny',
    {
      onRequest: signedIn,
      preHandler: [checkCsrf, adminOnly],
      schema: { hide: true, params: IdParam, body: DenyBody },
    },
    async (request, reply) => {
      const record = context.exceptions.deny(request.params.id.toLowerCase(), {
        actor: actor(request),
        remoteIp: request.ip,
        reason: request.body.reason.trim(),
      });
      return reply.code(303).header('location', `/ui/exceptions?status=denied&denied=${record.id}`).send();
    },
  );

  // --- reports and exports -----------------------------------------------------------------
  app.get('/reports', { onRequest: signedIn, schema: { hide: true } }, async (request, reply) =>
    render(reply, request.ui, reportsPage(REPORTS)),
  );

  const checks = new Map<string, TypeCheck<TObject>>();
  /** A report's filters from a form, checked by the report's own query schema (as the API checks them). */
  const reportQuery = (report: ReportDefinition, fields: Record<string, unknown>): RawQuery => {
    const schema = querySchema(report.filters, report.overrides);
    let check = checks.get(report.kind);
    if (!check) checks.set(report.kind, (check = TypeCompiler.Compile(schema)));
    // Filter forms send every field; an empty one means "any".
    const given = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== '' && value !== undefined));
    const query = Value.Convert(schema, given);
    if (!check.Check(query)) throw badRequest(formatErrors('query', check.Errors(query)));
    return query as RawQuery;
  };

  // --- attestation as of an instant ---------------------------------------------------------
  const AttestationQuery = Type.Object(
    {
      at: Type.Optional(Type.String({ maxLength: 40 })),
      group: Type.Optional(Type.String({ maxLength: 200 })),
      device: Type.Optional(Type.String({ maxLength: 255 })),
    },
    { additionalProperties: false },
  );
  app.get(
    '/attestation',
    {
      onRequest: signedIn,
      handlerTimeout: REPORT_TIMEOUT_MS,
      schema: { hide: true, querystring: AttestationQuery },
    },
    async (request, reply) => {
      const query = {
        at: request.query.at?.trim() ?? '',
        group: request.query.group?.trim() ?? '',
        device: request.query.device?.trim() ?? '',
      };
      const page = { query, document: null, downloadHref: null, fingerprint: context.policyKeyFingerprint };
      if (!query.at) return render(reply, request.ui, attestationPage(page));
      try {
        // The report's own filters and builder, as GET /v1/reports/attestation uses them.
        const raw = reportQuery(attestationReport, { ...query, format: 'json' });
        const { document } = app.reports.service.document(attestationReport, raw);
        return render(
          reply,
          request.ui,
          attestationPage({
            ...page,
            document: document as AttestationDocument,
            downloadHref: attestationDownload(query),
          }),
        );
      } catch (error) {
        if (!(error instanceof ApiError) || error.statusCode !== 400) throw error;
        // "query.at: ..." reads as the form's field ("Instant: ...").
        const labels: Record<string, string> = { at: 'Instant', group: 'Group', device: 'Device' };
        const text = error.message.replace(/^query\.(\w+):? /, (_m, field: string) => `${labels[field] ?? field}: `);
        return render(reply, request.ui, attestationPage({ ...page, notice: { kind: 'error', text } }), 400);
      }
    },
  );

  app.get(
    '/export/:kind',
    {
      onRequest: signedIn,
      handlerTimeout: REPORT_TIMEOUT_MS,
      schema: { hide: true, params: Type.Object({ kind: Type.String({ maxLength: 40 }) }) },
    },
    async (request, reply) => {
      const report = reportByKind(request.params.kind);
      if (!report) throw notFound(`there is no report "${request.params.kind}"`);
      const query = reportQuery(report, request.query as Record<string, unknown>);
      // A document report (attestation) is served signed, exactly as the API serves it.
      if (report.document)
        return sendSignedDocument(
          reply,
          await app.reports.service.signedDocument(report, query as RawQuery, context.signingKey),
        );
      return sendReport(reply, app.reports.service.run(report, query as RawQuery));
    },
  );
};
