/**
 * The one HTTP client for the admin API and the report streams, used by every `aigate` command
 * and by tests. Paths given to `get`/`post` are relative to `/v1/admin`; `report` streams from
 * `/v1/reports`. Failures become an `AdminApiError` whose message says what to do next.
 */
import type { Problem } from '../../policies/problem.js';

/**
 * A request that did not succeed. `status` is the HTTP status, or 0 when there was no answer;
 * `code` is the server's machine-readable error code (`ErrorBody.error`), or `unreachable` /
 * `bad_response` / `http_error` when the server gave none.
 */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

/** What a network failure most likely means, and what to check (Node's fetch puts the code in `cause`). */
function unreachable(baseUrl: string, error: unknown): AdminApiError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? cause?.message ?? (error as Error).message;
  const hint: Record<string, string> = {
    ECONNREFUSED: `nothing is listening there; is the server running at ${baseUrl}? (start it with: npx aigate-server start)`,
    ENOTFOUND: 'the host name is not known; check the server URL',
    EAI_AGAIN: 'the host name could not be looked up; check the network and the server URL',
    ECONNRESET: 'the connection was closed; is it the right port, and http:// vs https://?',
    ETIMEDOUT: 'no answer in time; check the network, a firewall, and the server URL',
    UND_ERR_CONNECT_TIMEOUT: 'no answer in time; check the network, a firewall, and the server URL',
    EPROTO: 'the TLS handshake failed; is the server plain http://?',
    ERR_SSL_WRONG_VERSION_NUMBER: 'the TLS handshake failed; is the server plain http://?',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed; trust it with NODE_EXTRA_CA_CERTS=ca.pem',
    SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate is not trusted; trust its CA with NODE_EXTRA_CA_CERTS=ca.pem',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      'the server certificate is not trusted; trust its CA with NODE_EXTRA_CA_CERTS=ca.pem',
  };
  return new AdminApiError(0, 'unreachable', `cannot reach ${baseUrl}: ${code}${hint[code] ? `; ${hint[code]}` : ''}`);
}

/** The server's ErrorBody, or null when another program (a proxy, a web server) answered. */
function parseErrorBody(text: string): { error?: string; message?: string; problems?: Problem[] } | null {
  try {
    const body = JSON.parse(text) as unknown;
    return body && typeof body === 'object'
      ? (body as { error?: string; message?: string; problems?: Problem[] })
      : null;
  } catch {
    return null;
  }
}

export class AdminClient {
  /** The server URL without a trailing slash. */
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** Send a request to `path` (from the server root); an answer that is not 2xx throws. */
  private async send(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept };
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, init);
    } catch (error) {
      throw unreachable(this.baseUrl, error);
    }
    if (response.ok) return response;
    const text = await response.text();
    const error = parseErrorBody(text);
    if (error?.message)
      throw new AdminApiError(response.status, error.error ?? 'http_error', error.message, error.problems ?? []);
    const hint =
      response.status === 404 && /\/(ui|docs)$/.test(this.baseUrl)
        ? `; ${this.baseUrl} is a page of the server, not the server: use ${this.baseUrl.replace(/\/(ui|docs)$/, '')}`
        : response.status === 404
          ? `; is ${this.baseUrl} an aigate server?`
          : '';
    throw new AdminApiError(
      response.status,
      error?.error ?? 'http_error',
      `HTTP ${response.status} from ${this.baseUrl}${path}${hint}`,
    );
  }

  /** A JSON request to the admin API (`path` below /v1/admin). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, `/v1/admin${path}`, body);
    const text = await response.text();
    try {
      return (text ? JSON.parse(text) : null) as T;
    } catch {
      throw new AdminApiError(
        response.status,
        'bad_response',
        `the server answered ${response.status} with a body that is not JSON; is ${this.baseUrl} an aigate server?`,
      );
    }
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** Stream a report: GET /v1/reports/KIND?QUERY; the caller reads the body and the headers. */
  report(kind: string, query: URLSearchParams): Promise<Response> {
    return this.send('GET', `/v1/reports/${encodeURIComponent(kind)}?${query}`, undefined, '*/*');
  }

  /** POST /v1/reports/rollups/run (admin): rebuild the daily rollups now. */
  async runRollups<T>(): Promise<T> {
    const response = await this.send('POST', '/v1/reports/rollups/run');
    return (await response.json()) as T;
  }
}
