/**
 * The agent's HTTP client for the device routes: a fresh device token per request, a timeout on
 * every call, JSON in and out. Network failures become ServerUnreachable so callers can tell
 * "offline" (spool, back off, keep enforcing) from "the server said no".
 *
 * Tokens carry the device's clock. If the server refuses one as expired or from the future (a
 * clock far off, perhaps turned back on purpose), the client learns the offset from the reply's
 * Date header and signs again: the Date header only ever moves our own token's iat, so trusting
 * it costs nothing.
 */
import type { KeyObject } from 'node:crypto';

import { mintDeviceToken } from '../../policies/device-token.js';
import { errorCode, ServerUnreachable } from './contact.js';

export interface HttpReply {
  status: number;
  headers: Headers;
  /** Parsed JSON, the raw text if it is not JSON, or null for an empty body. */
  body: unknown;
}

export interface DeviceIdentity {
  serverUrl: string;
  deviceId: string;
  audience: string;
  privateKey: KeyObject;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Send no device token (enrollment). */
  anonymous?: boolean;
}

const CLOCK_CODES = new Set<string>(['token_expired', 'token_too_old']);
const DEFAULT_TIMEOUT_MS = 30_000;

export async function httpJson(
  url: string,
  method: string,
  options: RequestOptions & { authorization?: string },
): Promise<HttpReply> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.authorization) headers.authorization = options.authorization;
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  init.signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, init);
    text = await response.text();
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = timeout.aborted ? 'timed out' : (cause?.code ?? cause?.message ?? (error as Error).message);
    throw new ServerUnreachable(url, reason);
  }
  let body: unknown = null;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, headers: response.headers, body };
}

export class DeviceHttp {
  /** Server clock minus ours, learnt from a refused token; 0 until then. */
  private offsetMs = 0;

  constructor(
    private readonly identity: DeviceIdentity,
    private readonly clock: () => number = Date.now,
  ) {}

  get serverUrl(): string {
    return this.identity.serverUrl;
  }

  token(): string {
    const { deviceId, audience, privateKey } = this.identity;
    return mintDeviceToken({ deviceId, audience, privateKey, nowSeconds: (this.clock() + this.offsetMs) / 1000 });
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpReply> {
    const url = this.identity.serverUrl + path;
    const send = () =>
      httpJson(url, method, { ...options, ...(options.anonymous ? {} : { authorization: `Bearer ${this.token()}` }) });
    const reply = await send();
    if (reply.status === 401 && !options.anonymous && this.learnOffset(reply)) return send();
    return reply;
  }

  /** True when the reply shows our clock is off and the offset was corrected. */
  private learnOffset(reply: HttpReply): boolean {
    // By code only: a token from the future is `invalid_token` too, so any invalid_token is worth one
    // retry when the Date header shows a real difference (below).
    const code = errorCode(reply.body);
    if (code === null || !(CLOCK_CODES.has(code) || code === 'invalid_token')) return false;
    const serverDate = Date.parse(reply.headers.get('date') ?? '');
    if (!Number.isFinite(serverDate)) return false;
    const offset = serverDate - this.clock();
    // Date has one-second resolution; only a real difference is worth a retry.
    if (Math.abs(offset - this.offsetMs) < 2000 && code !== 'token_too_old') return false;
    this.offsetMs = code === 'token_too_old' ? offset + 1000 : offset;
    return true;
  }
}
