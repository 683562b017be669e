/**
 * The agent's own health, as sent in every check-in (`health`, policies/protocol.ts) and shown by
 * `aigate-agent status`. Each part of the agent owns a slot ("phase:scan", "spool", "ledger"...):
 * it sets the slot when something goes wrong and clears it when that part works again, so a
 * reason lasts exactly as long as its cause. A slot keeps the instant it was first set (`since`).
 */
import type { AgentHealth, HealthReason, HealthReasonCode } from '../../policies/protocol.js';

const MAX_MESSAGE_CHARS = 1000;
const MAX_REASONS = 20;

export class HealthTracker {
  private readonly slots = new Map<string, HealthReason>();

  /**
   * Marks `slot` as failing with `code`. `since` (RFC 3339) defaults to the first time this slot
   * failed with this code; a part that tracks its own (enforcement) passes it.
   */
  set(slot: string, code: HealthReasonCode, message: string, nowMs: number, since?: string): void {
    const before = this.slots.get(slot);
    const text = message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…` : message || code;
    since ??= before?.code === code && before.since ? before.since : new Date(nowMs).toISOString();
    this.slots.set(slot, { code, message: text, since });
  }

  clear(slot: string): void {
    this.slots.delete(slot);
  }

  /** Clears every slot whose name starts with `prefix` (all of one phase's per-item slots). */
  clearPrefix(prefix: string): void {
    for (const slot of [...this.slots.keys()]) if (slot.startsWith(prefix)) this.slots.delete(slot);
  }

  has(slot: string): boolean {
    return this.slots.has(slot);
  }

  /** The report: `ok` with no reasons, or `degraded` with the oldest reasons first (at most 20). */
  report(): AgentHealth {
    const reasons = [...this.slots.values()]
      .sort((a, b) => (a.since ?? '').localeCompare(b.since ?? ''))
      .slice(0, MAX_REASONS);
    return reasons.length === 0 ? { state: 'ok', reasons: [] } : { state: 'degraded', reasons };
  }
}
