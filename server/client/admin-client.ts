/** A small typed client for the admin API, used by the `aigate` CLI and by tests. */

export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: { path: string; message: string; line?: number; column?: number }[] = [],
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export class AdminClient {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}/v1/admin${path}`, init);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new AdminApiError(0, 'unreachable', `cannot reach ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      throw new AdminApiError(response.status, 'bad_response', `the server answered ${response.status} with a body that is not JSON`);
    }
    if (!response.ok) {
      const error = parsed as { error?: string; message?: string; problems?: AdminApiError['problems'] } | null;
      throw new AdminApiError(response.status, error?.error ?? 'http_error', error?.message ?? `HTTP ${response.status}`, error?.problems ?? []);
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }
}
