/**
 * Bundles for agents from before fleet fingerprints. Their bundle schema admits no unknown field,
 * so a bundle carrying `fingerprints` would be refused and they would keep an old policy. An
 * agent that understands the field says so in the `aigate-bundle-features` header of
 * GET /v1/policy; any other gets the same revision re-signed without it (same iss, iat,
 * revision, policy and policyHash; its own ETag). Ed25519 signatures are deterministic, so the
 * variant is the same bytes however often it is made; the last one is kept in memory.
 */
import { type BundlePayload, decodeBundleUnverified, signBundle } from '../../policies/bundle.js';
import type { SigningKey } from '../../policies/keys.js';
import { BUNDLE_FEATURES_HEADER } from '../../policies/protocol.js';
import type { CurrentPolicy } from '../policy-channel.js';
import { etagFor } from './policy-service.js';

/** Whether the request's `aigate-bundle-features` header names `feature`. */
export function acceptsFeature(headers: Record<string, string | string[] | undefined>, feature: string): boolean {
  const raw = headers[BUNDLE_FEATURES_HEADER];
  const text = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  return text.split(',').some((item) => item.trim().toLowerCase() === feature);
}

export class LegacyBundles {
  private last: { etag: string; variant: CurrentPolicy } | null = null;

  constructor(private readonly key: SigningKey) {}

  /** `policy` as an agent without fingerprint support can accept it (itself when it carries none). */
  async withoutFingerprints(policy: CurrentPolicy): Promise<CurrentPolicy> {
    if (this.last?.etag === policy.etag) return this.last.variant;
    // The server's own bundle, read back: it was validated when it was signed.
    const decoded = decodeBundleUnverified(policy.bundle);
    let variant = policy;
    if (decoded.ok && (decoded.payload as BundlePayload).fingerprints !== undefined) {
      const { fingerprints: _dropped, ...rest } = decoded.payload as BundlePayload;
      const bundle = await signBundle(rest, this.key);
      variant = { ...policy, bundle, etag: etagFor(policy.revision, bundle) };
    }
    this.last = { etag: policy.etag, variant };
    return variant;
  }
}
