/**
 * Deciding whether a bundle from the server (or from the on-disk cache) may be enforced: signed
 * by a pinned key, newer than the revision floor, the expected shape, and a policy whose meaning
 * checks out against the catalog it travels with (or the built-in one). Pure apart from crypto.
 */
import type { JWK } from 'jose';

import { type BundlePayload, type BundleRefusalCode, verifyBundle } from '../../policies/bundle.js';
import { builtinCatalog } from '../../policies/catalog/index.js';
import type { Catalog } from '../../policies/catalog/schema.js';
import { type CompiledPolicy, compilePolicy } from '../../policies/compile.js';
import { formatProblem, validatePolicyValue } from '../../policies/load.js';

export type RefusalCode = BundleRefusalCode | 'invalid-policy';

export interface AcceptedPolicy {
  token: string;
  payload: BundlePayload;
  catalog: Catalog;
  compiled: CompiledPolicy;
}

export type Acceptance = { ok: true; policy: AcceptedPolicy } | { ok: false; code: RefusalCode; message: string };

export async function acceptBundle(
  token: string,
  options: { trustedKeys: readonly JWK[]; lastRevision: number | null },
): Promise<Acceptance> {
  const verified = await verifyBundle(token, { trustedKeys: options.trustedKeys, lastRevision: options.lastRevision });
  if (!verified.ok) return verified;
  const payload = verified.payload;
  const catalog = payload.catalog ?? builtinCatalog;
  const checked = validatePolicyValue(payload.policy, { catalog });
  if (!checked.ok) {
    const head = checked.errors
      .slice(0, 3)
      .map((problem) => formatProblem(problem))
      .join('; ');
    return {
      ok: false,
      code: 'invalid-policy',
      message: `revision ${payload.revision} is signed but its policy is invalid: ${head}`,
    };
  }
  let compiled: CompiledPolicy;
  try {
    compiled = compilePolicy(checked.policy, catalog);
  } catch (error) {
    return {
      ok: false,
      code: 'invalid-policy',
      message: `revision ${payload.revision} cannot be compiled: ${(error as Error).message}`,
    };
  }
  return { ok: true, policy: { token, payload, catalog, compiled } };
}

/** A short, human description of why a bundle was refused. */
export function describeRefusal(code: RefusalCode): string {
  switch (code) {
    case 'bad-signature':
      return 'its signature does not verify (it was altered on the way)';
    case 'unknown-key':
      return 'it is signed by a key this machine does not trust';
    case 'stale-revision':
      return 'it is not newer than the policy already in force';
    case 'wrong-algorithm':
      return 'it is signed with an algorithm aigate does not accept';
    case 'wrong-issuer':
      return 'it was issued by another server';
    case 'invalid-policy':
      return 'its policy does not validate';
    case 'bad-payload':
    case 'malformed':
      return 'it is not a well-formed policy bundle';
  }
}
