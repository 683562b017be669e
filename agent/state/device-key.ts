/** The device's Ed25519 key: generated at enrollment, kept in a file only the agent can read. */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import type { PublicJwk } from '../../policies/keys.js';
import { writeFileAtomic } from './atomic.js';
import { PRIVATE_FILE_MODE } from './paths.js';

export interface DeviceKey {
  privateKey: KeyObject;
  publicJwk: PublicJwk;
}

function publicJwkOf(privateKey: KeyObject): PublicJwk {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as { x?: string };
  if (typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
}

export function generateDeviceKey(): DeviceKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicJwk: publicJwkOf(privateKey) };
}

/** The key in the file, or null when there is none. Throws with a clear message on a damaged file. */
export async function loadDeviceKey(path: string): Promise<DeviceKey | null> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read the device key ${path}: ${(error as Error).message}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new Error(`the device key ${path} is not a PEM private key; enroll again with --force to make a new one`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`the device key ${path} is not an Ed25519 key`);
  return { privateKey, publicJwk: publicJwkOf(privateKey) };
}

export async function saveDeviceKey(path: string, key: DeviceKey): Promise<void> {
  const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  await writeFileAtomic(path, pem, { mode: PRIVATE_FILE_MODE });
}
