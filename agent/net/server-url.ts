/**
 * Which server URLs the agent will talk to: https anywhere, plain http only to this machine
 * (loopback) unless the admin explicitly allowed it at enrollment. Pure.
 */
import { isIP } from 'node:net';

export type ServerUrlResult = { ok: true; url: string } | { ok: false; message: string };

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/** Checks and normalises a server URL (no trailing slash). */
export function checkServerUrl(text: string, options: { insecureHttp: boolean }): ServerUrlResult {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {
      ok: false,
      message: `--server must be a URL such as https://aigate.example.com, got ${JSON.stringify(text)}`,
    };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, message: `--server must use https (or http to this machine), got ${url.protocol}` };
  if (url.username || url.password) return { ok: false, message: '--server must not contain a user name or password' };
  if (url.search || url.hash) return { ok: false, message: '--server must not contain a query or a fragment' };
  if (url.protocol === 'http:' && !options.insecureHttp && !isLoopbackHost(url.hostname)) {
    return {
      ok: false,
      message: `refusing plain http to ${url.hostname}: policies and device tokens would travel unencrypted. Use https, or pass --insecure-http if you really mean it (test networks only)`,
    };
  }
  return { ok: true, url: `${url.origin}${url.pathname.replace(/\/+$/, '')}` };
}

/** A pinned-key fingerprint: an RFC 7638 SHA-256 thumbprint, base64url, 43 characters. */
export function isFingerprint(text: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(text);
}
