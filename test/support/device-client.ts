/**
 * Test support, not product code: a minimal device side of the wire protocol with a real
 * Ed25519 key, enough for the tests and the benchmark to act as an enrolled agent. Bodies are
 * left untyped on purpose (tests send malformed ones); the contract is policies/protocol.ts.
 *
 * Device tokens are compact JWS signed with node:crypto directly, so `token()` is synchronous
 * and cheap enough to mint one per request in a load generator.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

import type { JWK } from 'jose';

import { type DeviceTokenOverrides, mintDeviceToken } from '../../policies/device-token.js';

export interface DeviceFactsForEnroll {
  hostname: string;
  os: 'linux' | 'darwin' | 'windows';
  osVersion?: string;
  arch?: string;
  users: string[];
  agentVersion: string;
}

export interface EnrollResult {
  deviceId: string;
  group: string;
  created: boolean;
  enrolledAt: string;
  audience: string;
  policyKey: { kid: string; jwk: JWK; fingerprint: string };
}

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null for an empty body. */
  body: T;
  text: string;
}

export type TokenOverrides = DeviceTokenOverrides;

export class DeviceClient {
  deviceId: string | null = null;
  audience: string | null = null;
  enrollment: EnrollResult | null = null;

  constructor(
    readonly baseUrl: string,
    readonly privateKey: KeyObject,
    readonly publicJwk: { kty: 'OKP'; crv: 'Ed25519'; x: string },
  ) {}

  static generate(baseUrl: string): DeviceClient {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string };
    return new DeviceClient(baseUrl.replace(/\/+$/, ''), privateKey, { kty: 'OKP', crv: 'Ed25519', x: jwk.x });
  }

  /** Use an existing enrollment (e.g. after a server restart) without calling /v1/enroll. */
  adopt(enrollment: EnrollResult): void {
    this.enrollment = enrollment;
    this.deviceId = enrollment.deviceId;
    this.audience = enrollment.audience;
  }

  async enroll(secret: string, facts: DeviceFactsForEnroll): Promise<HttpResult<EnrollResult>> {
    const result = await this.send<EnrollResult>('POST', '/v1/enroll', {
      body: { secret, publicKey: this.publicJwk, ...facts },
      token: null,
    });
    if (result.status === 200 || result.status === 201) this.adopt(result.body);
    return result;
  }

  /** A fresh device token: new jti, iat now, 2-minute expiry, unless overridden. */
  token(overrides: TokenOverrides = {}): string {
    if (!this.deviceId || !this.audience)
      throw new Error('enroll (or adopt an enrollment) before signing device tokens');
    return mintDeviceToken(
      { deviceId: this.deviceId, audience: this.audience, privateKey: this.privateKey, nowSeconds: Date.now() / 1000 },
      overrides,
    );
  }

  /**
   * One HTTP request. `token: null` sends no Authorization; a string sends that token; the
   * default signs a fresh device token. `rawBody` sends text as is (for malformed-JSON tests).
   */
  async send<T = unknown>(
    method: string,
    path: string,
    options: {
      body?: unknown;
      rawBody?: string;
      token?: string | null;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    } = {},
  ): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? this.token() : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = body;
    if (options.signal) init.signal = options.signal;
    const response = await fetch(this.baseUrl + path, init);
    const text = await response.text();
    let parsed: unknown = null;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  getPolicy(options: { etag?: string; wait?: number; signal?: AbortSignal } = {}) {
    const headers: Record<string, string> = {};
    if (options.etag) headers['if-none-match'] = options.etag;
    if (options.wait !== undefined) headers.prefer = `wait=${options.wait}`;
    const request: { headers: Record<string, string>; signal?: AbortSignal } = { headers };
    if (options.signal) request.signal = options.signal;
    return this.send<{ revision: number; etag: string; publishedAt: string; bundle: string }>(
      'GET',
      '/v1/policy',
      request,
    );
  }

  checkin(body: unknown) {
    return this.send<{
      receivedAt: string;
      serverTime: string;
      policy: { revision: number; etag: string } | null;
      changes: Record<string, number>;
    }>('POST', '/v1/checkin', { body });
  }

  events(events: unknown[]) {
    return this.send<{ accepted: number; duplicates: number }>('POST', '/v1/events', { body: { events } });
  }

  requestException(body: unknown) {
    return this.send<{ id: string; status: string }>('POST', '/v1/exception-requests', { body });
  }
}
