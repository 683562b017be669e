/**
 * The server's Ed25519 policy signing key lives in its own file in the data directory, mode
 * 0600, not in the database: the database is what gets copied around for reports, backups and
 * debugging, and a copy of it must not let anyone sign policies. The file is created once,
 * exclusively (never overwritten), and refused if other users can read it.
 */
import { constants } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

import { generateSigningKey, type SigningKey } from '../policies/keys.js';

const SIGNING_KEY_FILE = 'policy-signing-key.json';

const Jwk = Type.Object({ kty: Type.Literal('OKP'), crv: Type.Literal('Ed25519'), x: Type.String({ minLength: 1 }) });
const KeyFile = Type.Object({
  kid: Type.String({ minLength: 1 }),
  privateJwk: Type.Intersect([Jwk, Type.Object({ d: Type.String({ minLength: 1 }) })]),
  publicJwk: Jwk,
});

class SigningKeyError extends Error {}

export async function loadOrCreateSigningKey(
  dataDir: string,
): Promise<{ key: SigningKey; created: boolean; file: string }> {
  const file = join(dataDir, SIGNING_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing) return { key: existing, created: false, file };

  const key = await generateSigningKey();
  let handle;
  try {
    handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    // Another process created it between our read and our create: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = await readKeyFile(file);
      if (theirs) return { key: theirs, created: false, file };
    }
    throw error;
  }
  try {
    await handle.writeFile(JSON.stringify(key, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { key, created: true, file };
}

async function readKeyFile(file: string): Promise<SigningKey | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SigningKeyError(`cannot read the policy signing key ${file}: ${(error as Error).message}`);
  }
  if (process.platform !== 'win32') {
    const mode = (await stat(file)).mode & 0o777;
    if (mode & 0o077) {
      throw new SigningKeyError(
        `the policy signing key ${file} is readable by other users (mode ${mode.toString(8)}); run: chmod 600 ${file}`,
      );
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SigningKeyError(`the policy signing key ${file} is not valid JSON`);
  }
  if (!Value.Check(KeyFile, value)) {
    throw new SigningKeyError(
      `the policy signing key ${file} is not an Ed25519 key file (expected kid, privateJwk, publicJwk)`,
    );
  }
  return value as SigningKey;
}
