/**
 * Fleet-wide file fingerprints: devices report the SHA-256 of catalogued tools' entry files and
 * native binaries they learned (agent/sentinel/fingerprints.ts), the server keeps them, and the
 * ones it trusts go in the signed policy bundle so every agent knows a renamed copy.
 *
 * A device's report is untrusted: a hostile employee could report the SHA-256 of node or bash as
 * "claude-code". So a reported fingerprint is shipped only when
 *   - an admin approved it (`aigate fingerprints approve`), or
 *   - it is corroborated: at least `corroboration` distinct devices (default 2; 0 turns this off)
 *     reported the same SHA-256 with the same claim (tool, kind, size), no device claimed
 *     something else for it, and the claim is plausible: a catalogued tool the agent learns from
 *     npm installs, a native binary of at least 1 MiB, an entry file of at least 1 KiB (smaller
 *     launch scripts are too generic to name one tool);
 * and never once an admin revoked it. Each device may only report tools its last check-in listed.
 * Agents add their own guard: a shipped fingerprint never stops root's processes, a known runtime
 * or shell, or a file inside another package (agent/sentinel/identify.ts).
 *
 * Every change of the shipped set publishes a new policy revision (same policy, new bundle), with
 * the decision and the revision audited in one transaction.
 */
import type Database from 'better-sqlite3';

import type { CatalogIndex } from '../../policies/catalog/index.js';
import { MAX_SHIPPED_FINGERPRINTS, type ToolFingerprint } from '../../policies/protocol.js';
import { badRequest, conflict, notFound } from '../http/errors.js';
import type { Actor, AuditLog } from '../store/audit.js';
import type { FingerprintRecord, FingerprintStatus, FingerprintStore } from '../store/fingerprints.js';
import type { InventoryStore } from '../store/inventory.js';
import type { PolicyStore } from '../store/policies.js';
import type { PolicyService } from './policy-service.js';

/** A device stores at most this many fingerprints (each SHA-256 once); more is refused. */
const MAX_FINGERPRINTS_PER_DEVICE = 2000;
/** Smallest native binary the agent learns (agent/sentinel/fingerprints.ts NATIVE_MIN_BYTES). */
const NATIVE_MIN_BYTES = 1024 * 1024;
/** Smallest entry file corroboration alone may ship. */
const ENTRY_MIN_BYTES = 1024;

const SYSTEM: Actor = { id: null, name: 'aigate-server', role: 'system' };

/** Why a fingerprint is (or would be) shipped, or why not. */
export type ShipState = { shipped: true; why: 'approved' | 'corroborated' } | { shipped: false; why: string };

/** The first reason a claim is implausible for corroboration, or null (admins may still approve it). */
function implausible(fp: Pick<ToolFingerprint, 'toolId' | 'kind' | 'size'>, catalog: CatalogIndex): string | null {
  const tool = catalog.tool(fp.toolId);
  if (!tool) return `${fp.toolId} is not in the catalog`;
  if (!tool.detect.npm?.length && !tool.detect.npmPlatformFamilies?.length)
    return `the catalog knows no npm package of ${fp.toolId}, and fingerprints are learned from npm installs`;
  if (fp.kind === 'native' && fp.size < NATIVE_MIN_BYTES) return `a native binary of ${fp.size} bytes is too small`;
  if (fp.kind === 'entry' && fp.size < ENTRY_MIN_BYTES)
    return `an entry file of ${fp.size} bytes is too small to name one tool`;
  return null;
}

/** Whether a stored fingerprint is shipped under the trust rule above, and why (not). */
function shipState(record: FingerprintRecord, catalog: CatalogIndex, corroboration: number): ShipState {
  if (record.status === 'approved') return { shipped: true, why: 'approved' };
  if (record.status === 'revoked') return { shipped: false, why: 'revoked by an admin' };
  if (corroboration <= 0) return { shipped: false, why: 'waits for an admin (corroboration is off)' };
  if (record.agreeing < record.devices)
    return { shipped: false, why: 'disputed: devices reported different tools, kinds or sizes for it' };
  const problem = implausible(record, catalog);
  if (problem) return { shipped: false, why: `waits for an admin: ${problem}` };
  if (record.agreeing < corroboration)
    return { shipped: false, why: `reported by ${record.agreeing} of the ${corroboration} devices needed` };
  return { shipped: true, why: 'corroborated' };
}

const toShipped = (record: FingerprintRecord): ToolFingerprint => ({
  sha256: record.sha256,
  size: record.size,
  toolId: record.toolId,
  version: record.version,
  kind: record.kind,
});

/** Thrown inside the publish queue when another publish already shipped what this one would. */
class NothingToShip extends Error {}

export interface FingerprintServiceDeps {
  db: Database.Database;
  store: FingerprintStore;
  inventory: InventoryStore;
  policies: PolicyStore;
  publisher: PolicyService;
  audit: AuditLog;
  catalog: CatalogIndex;
  /** Distinct devices needed to ship without an admin; 0: admin approval only. */
  corroboration: number;
}

export class FingerprintService {
  constructor(private readonly deps: FingerprintServiceDeps) {}

  /** Every stored fingerprint with its ship state (for listing and for the bundle). */
  all(): { record: FingerprintRecord; state: ShipState }[] {
    return this.deps.store
      .list({}, Number.MAX_SAFE_INTEGER)
      .map((record) => ({ record, state: shipState(record, this.deps.catalog, this.deps.corroboration) }));
  }

  /** What the next bundle carries: every shipped fingerprint, oldest first, at most MAX_SHIPPED_FINGERPRINTS. */
  shippable(override?: { sha256: string; status: FingerprintStatus }): ToolFingerprint[] {
    const out: ToolFingerprint[] = [];
    for (const { record } of this.all().reverse()) {
      const effective = override && override.sha256 === record.sha256 ? { ...record, status: override.status } : record;
      if (shipState(effective, this.deps.catalog, this.deps.corroboration).shipped) out.push(toShipped(record));
    }
    return out.slice(0, MAX_SHIPPED_FINGERPRINTS);
  }

  /**
   * A device's report: each fingerprint must be of a catalogued tool that this device's last
   * check-in listed at that version, each SHA-256 once, and the device may not exceed
   * MAX_FINGERPRINTS_PER_DEVICE. Anything wrong refuses the whole body (400) and stores nothing.
   * Returns how many SHA-256s were new; fingerprints this report corroborates are shipped in a
   * new revision before the call returns.
   */
  async report(deviceId: string, fingerprints: readonly ToolFingerprint[]): Promise<{ received: number; new: number }> {
    const { catalog, inventory, store, db } = this.deps;
    const present = new Map<string, Set<string | null>>();
    for (const stored of inventory.forDevice(deviceId)) {
      if (!stored.present) continue;
      const versions = present.get(stored.instance.toolId) ?? new Set<string | null>();
      versions.add(stored.instance.version);
      present.set(stored.instance.toolId, versions);
    }
    const seen = new Set<string>();
    fingerprints.forEach((fp, index) => {
      const at = `body.fingerprints[${index}]`;
      if (seen.has(fp.sha256)) throw badRequest(`${at} repeats the SHA-256 ${fp.sha256}; report each file once`);
      seen.add(fp.sha256);
      if (!catalog.has(fp.toolId))
        throw badRequest(`${at}.toolId ${JSON.stringify(fp.toolId)} is not a catalogued tool`);
      const versions = present.get(fp.toolId);
      if (!versions)
        throw badRequest(
          `${at}.toolId ${fp.toolId} is not in this device's inventory; check in before reporting its files`,
        );
      if (!versions.has(fp.version))
        throw badRequest(
          `${at}.version ${JSON.stringify(fp.version)} is not a version of ${fp.toolId} this device reported (${[...versions].map((v) => JSON.stringify(v)).join(', ')})`,
        );
      if (fp.kind === 'native' && fp.size < NATIVE_MIN_BYTES)
        throw badRequest(`${at}.size ${fp.size} is too small for a native binary (at least ${NATIVE_MIN_BYTES} bytes)`);
    });
    const fresh = db.transaction(() => {
      const already = store.reportedBy(deviceId);
      const added = fingerprints.filter((fp) => !this.reportedByDevice(fp.sha256, deviceId));
      if (already + added.length > MAX_FINGERPRINTS_PER_DEVICE)
        throw conflict(
          `this device has reported ${already} fingerprints; at most ${MAX_FINGERPRINTS_PER_DEVICE} are kept per device`,
        );
      return store.report(deviceId, fingerprints);
    })();
    // Only a report that makes one of its fingerprints shippable can change the bundle.
    const ships = fingerprints.some((fp) => {
      const record = store.get(fp.sha256);
      return record?.shippedRevision === null && shipState(record, catalog, this.deps.corroboration).shipped;
    });
    if (ships) await this.shipCorroborated();
    return { received: fingerprints.length, new: fresh };
  }

  private reportedByDevice(sha256: string, deviceId: string): boolean {
    return (
      this.deps.db
        .prepare<[string, string], { n: number }>(
          'SELECT count(*) AS n FROM fingerprint_reports WHERE sha256 = ? AND device_id = ?',
        )
        .get(sha256, deviceId)!.n > 0
    );
  }

  /** Publishes a revision when corroborated fingerprints are not in any bundle yet. */
  async shipCorroborated(): Promise<number | null> {
    const { policies, publisher, store, audit } = this.deps;
    const unshipped = () => {
      const list = this.shippable();
      const fresh = this.all().filter(
        ({ record, state }) =>
          state.shipped && record.shippedRevision === null && list.some((f) => f.sha256 === record.sha256),
      );
      return { list, fresh: fresh.map(({ record }) => record) };
    };
    if (!policies.current() || unshipped().fresh.length === 0) return null;
    try {
      const result = await publisher.publishFromCurrent((current) => {
        const { list, fresh } = unshipped();
        if (!current || fresh.length === 0) throw new NothingToShip();
        const names = fresh.map((r) => `${r.sha256.slice(0, 12)} (${r.toolId} ${r.kind})`).join(', ');
        return {
          source: current.source,
          format: current.sourceFormat,
          comment: `fingerprints corroborated by devices: ${names}`.slice(0, 1000),
          actor: SYSTEM,
          fingerprints: list,
          alsoInTransaction: (revision) => {
            store.markShipped(
              list.map((f) => f.sha256),
              revision,
            );
            audit.append({
              actor: SYSTEM,
              action: 'fingerprint.corroborated',
              target: `policy:${revision}`,
              details: {
                fingerprints: fresh.map((r) => ({
                  sha256: r.sha256,
                  toolId: r.toolId,
                  kind: r.kind,
                  devices: r.agreeing,
                })),
                corroboration: this.deps.corroboration,
              },
            });
          },
        };
      });
      return result.revision;
    } catch (error) {
      if (error instanceof NothingToShip) return null;
      throw error;
    }
  }

  /**
   * An admin's decision: `approved` ships the fingerprint whatever the devices said, `revoked`
   * never ships it again. When that changes what the bundle carries, a new revision is published
   * with the decision and its audit entry in the same transaction; otherwise only the decision
   * and its audit entry are written. Returns the record and the revision published, if any.
   */
  async decide(
    sha256: string,
    status: 'approved' | 'revoked',
    input: { actor: Actor; remoteIp: string | null },
  ): Promise<{ record: FingerprintRecord; revision: number | null }> {
    const { store, audit, db, policies, publisher } = this.deps;
    const before = store.get(sha256);
    if (!before) throw notFound(`no device has reported the fingerprint ${sha256}`);
    if (before.status === status) throw conflict(`the fingerprint ${sha256} is already ${status}`);
    const action = status === 'approved' ? 'fingerprint.approve' : 'fingerprint.revoke';
    const write = (revision: number | null) => {
      store.setStatus(sha256, status, input.actor.name);
      audit.append({
        actor: input.actor,
        action,
        target: `fingerprint:${sha256}`,
        details: {
          toolId: before.toolId,
          kind: before.kind,
          size: before.size,
          version: before.version,
          devices: before.devices,
          policyRevision: revision,
        },
        remoteIp: input.remoteIp,
      });
    };
    let revision: number | null = null;
    const same = (a: ToolFingerprint[], b: ToolFingerprint[]) =>
      a.map((f) => f.sha256).join() === b.map((f) => f.sha256).join();
    if (!policies.current() || same(this.shippable(), this.shippable({ sha256, status }))) {
      db.transaction(() => write(null))();
    } else {
      try {
        const result = await publisher.publishFromCurrent((current) => {
          const list = this.shippable({ sha256, status });
          if (!current || same(this.shippable(), list)) throw new NothingToShip();
          return {
            source: current.source,
            format: current.sourceFormat,
            comment: `fingerprint ${sha256.slice(0, 12)} (${before.toolId} ${before.kind}) ${status}`,
            actor: input.actor,
            remoteIp: input.remoteIp,
            fingerprints: list,
            alsoInTransaction: (rev) => {
              write(rev);
              store.markShipped(
                list.map((f) => f.sha256),
                rev,
              );
            },
          };
        });
        revision = result.revision;
      } catch (error) {
        if (!(error instanceof NothingToShip)) throw error;
        db.transaction(() => write(null))();
      }
    }
    return { record: store.get(sha256)!, revision };
  }
}
