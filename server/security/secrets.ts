/**
 * Bearer secrets (admin tokens, enroll secrets) are 256 random bits, shown once and stored only
 * as a SHA-256 digest. A slow password hash adds nothing for secrets this long: guessing is
 * hopeless either way, and a fast digest lets every request look the token up by index.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const TOKEN_PREFIX = 'aigt_';
export const ENROLL_SECRET_PREFIX = 'aiges_';

export function newSecret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function newId(): string {
  return randomUUID();
}
