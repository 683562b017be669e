/**
 * Enrollment: make (or reuse) the device key, register it with an enroll secret, and pin the
 * policy signing key the server names, refusing it if the admin gave a different fingerprint.
 * With a fingerprint given, the server must first prove it holds that key (it signs a random
 * challenge) before the enroll secret is sent: a look-alike server never sees the secret.
 * Nothing is written unless everything checked out; the key is written before the config, and
 * the config is what marks the machine enrolled.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';

import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

import { publicKeyFingerprint, validatePublicJwk, verifyCompactJws } from '../policies/keys.js';
import {
  EnrollReply,
  KEY_PROOF_TYP,
  KeyProofPayload,
  KeyProofReply,
  MAX_KEY_PROOF_CHARS,
} from '../policies/protocol.js';
import type { MachineFacts } from './host/os.js';
import { checkReply, errorMessage, MalformedReply, ServerUnreachable } from './net/contact.js';
import { httpJson } from './net/device-http.js';
import { checkServerUrl, isFingerprint } from './net/server-url.js';
import { AgentConfig, saveConfig } from './state/config.js';
import { generateDeviceKey, loadDeviceKey, saveDeviceKey } from './state/device-key.js';
import { readJsonFile } from './state/json-file.js';
import { ensureStateLayout } from './state/layout.js';
import { statePaths } from './state/paths.js';
import { AGENT_VERSION } from './version.js';

export interface EnrollInput {
  server: string;
  secret: string;
  stateDir: string;
  expectedFingerprint?: string;
  insecureHttp: boolean;
  /** Enroll again even if this state directory is enrolled with another server. */
  force: boolean;
  facts: MachineFacts;
}

export interface EnrollOutcome {
  deviceId: string;
  group: string;
  created: boolean;
  serverUrl: string;
  fingerprint: string;
  /** True when the admin gave the fingerprint and it matched; false means trust on first use. */
  fingerprintVerified: boolean;
  keyReused: boolean;
}

export class EnrollError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnrollError';
  }
}

/** Bounds the config file needs beyond the protocol's reply shape. */
const StorableIds = Type.Object({
  deviceId: Type.String({ minLength: 1, maxLength: 200 }),
  audience: Type.String({ minLength: 1, maxLength: 500 }),
});

export async function enrollDevice(input: EnrollInput): Promise<EnrollOutcome> {
  const url = checkServerUrl(input.server, { insecureHttp: input.insecureHttp });
  if (!url.ok) throw new EnrollError(url.message);
  if (input.expectedFingerprint !== undefined && !isFingerprint(input.expectedFingerprint)) {
    throw new EnrollError(
      '--policy-key-fingerprint must be the 43-character fingerprint printed by aigate-server (base64url)',
    );
  }
  if (input.secret.length === 0 || input.secret.length > 200)
    throw new EnrollError('--secret must be the enroll secret from `aigate enroll-secret create`');

  const paths = statePaths(input.stateDir);
  const existing = await readJsonFile(paths.config, AgentConfig);
  const sameServer = existing.ok && existing.value.serverUrl === url.url;
  if (existing.ok && !sameServer && !input.force) {
    throw new EnrollError(
      `this machine is already enrolled with ${existing.value.serverUrl}; pass --force to enroll it with ${url.url} instead`,
    );
  }
  // Keep the key when enrolling again with the same server: the server recognises it and
  // answers with the same device id.
  const oldKey = sameServer || !existing.ok ? await loadDeviceKey(paths.deviceKey).catch(() => null) : null;
  const key = oldKey ?? generateDeviceKey();

  if (input.expectedFingerprint !== undefined) await checkKeyProof(url.url, input.expectedFingerprint);

  let reply;
  try {
    reply = await httpJson(`${url.url}/v1/enroll`, 'POST', {
      body: { secret: input.secret, publicKey: key.publicJwk, agentVersion: AGENT_VERSION, ...input.facts },
      timeoutMs: 30_000,
    });
  } catch (error) {
    if (error instanceof ServerUnreachable)
      throw new EnrollError(`${error.message}. Check the URL and that the server is running.`);
    throw error;
  }
  if (reply.status !== 200 && reply.status !== 201) {
    throw new EnrollError(`the server refused the enrollment (HTTP ${reply.status}): ${errorMessage(reply)}`);
  }
  let body: EnrollReply;
  try {
    body = checkReply(EnrollReply, 'POST /v1/enroll', reply);
  } catch (error) {
    if (error instanceof MalformedReply) throw new EnrollError(error.message);
    throw error;
  }
  if (!Value.Check(StorableIds, { deviceId: body.deviceId, audience: body.audience }))
    throw new EnrollError(
      'the server answered the enrollment with a device id or audience that is empty or too long; is this an aigate server?',
    );
  const jwk = validatePublicJwk(body.policyKey.jwk);
  if (!jwk.ok) throw new EnrollError(`the server's policy key is not usable: ${jwk.message}`);
  const fingerprint = await publicKeyFingerprint(jwk.jwk);
  if (fingerprint !== body.policyKey.fingerprint) {
    throw new EnrollError(
      `the server's policy key does not match the fingerprint it states (${body.policyKey.fingerprint} vs ${fingerprint}); refusing to pin it`,
    );
  }
  if (input.expectedFingerprint !== undefined && input.expectedFingerprint !== fingerprint) {
    throw new EnrollError(
      `the server's policy key fingerprint is ${fingerprint}, but --policy-key-fingerprint says ${input.expectedFingerprint}. ` +
        'Refusing to enroll: this may not be your company server. Nothing was written.',
    );
  }

  await ensureStateLayout(paths);
  if (!oldKey) await saveDeviceKey(paths.deviceKey, key);
  if (existing.ok && !sameServer) {
    // Another server's revisions and signed times mean nothing here.
    await Promise.all([paths.bundle, paths.policyState, paths.time].map((file) => rm(file, { force: true })));
  }
  await saveConfig(paths.config, {
    version: 1,
    serverUrl: url.url,
    insecureHttp: input.insecureHttp,
    deviceId: body.deviceId,
    group: body.group,
    audience: body.audience,
    hostname: input.facts.hostname,
    policyKeys: [jwk.jwk],
    policyKeyFingerprints: [fingerprint],
    enrolledAt: body.enrolledAt,
  });
  return {
    deviceId: body.deviceId,
    group: body.group,
    created: body.created,
    serverUrl: url.url,
    fingerprint,
    fingerprintVerified: input.expectedFingerprint !== undefined,
    keyReused: oldKey !== null,
  };
}

/**
 * Before the secret leaves this machine: the server at `server` must hold the private key whose
 * fingerprint is `expected`. It signs a fresh 32-byte challenge (GET /v1/policy-key); the
 * signature is checked with the key it names, and that key's fingerprint against `expected`.
 * Throws EnrollError (saying nothing was sent) on any mismatch, error or unreachable server.
 */
async function checkKeyProof(server: string, expected: string): Promise<void> {
  const refuse = (why: string) =>
    new EnrollError(`${why}. Refusing to enroll: this may not be your company server. Nothing was sent or written.`);
  const challenge = randomBytes(32).toString('base64url');
  let reply;
  try {
    reply = await httpJson(`${server}/v1/policy-key?challenge=${challenge}`, 'GET', { timeoutMs: 30_000 });
  } catch (error) {
    if (error instanceof ServerUnreachable)
      throw new EnrollError(`${error.message}. Check the URL and that the server is running.`);
    throw error;
  }
  if (reply.status !== 200)
    throw refuse(
      `the server did not prove its policy key (GET /v1/policy-key: HTTP ${reply.status}: ${errorMessage(reply)})`,
    );
  let body: KeyProofReply;
  try {
    body = checkReply(KeyProofReply, 'GET /v1/policy-key', reply);
  } catch (error) {
    if (error instanceof MalformedReply) throw refuse(error.message);
    throw error;
  }
  const jwk = validatePublicJwk(body.policyKey.jwk);
  if (!jwk.ok) throw refuse(`the server's policy key is not usable: ${jwk.message}`);
  const fingerprint = await publicKeyFingerprint(jwk.jwk);
  if (fingerprint !== expected)
    throw refuse(
      `the server's policy key fingerprint is ${fingerprint}, but --policy-key-fingerprint says ${expected}`,
    );
  const proof = await verifyCompactJws(body.proof, {
    trustedKeys: [jwk.jwk],
    typ: KEY_PROOF_TYP,
    maxLength: MAX_KEY_PROOF_CHARS,
  });
  const payload = proof.ok && Value.Check(KeyProofPayload, proof.payload) ? proof.payload : null;
  if (payload === null || payload.challenge !== challenge)
    throw refuse(
      `the server names the policy key ${fingerprint} but did not sign this enrollment's challenge with it${proof.ok ? '' : ` (${proof.message})`}`,
    );
}
