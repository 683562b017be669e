/**
 * Remembers device-token ids (`jti`) until the token expires, so a captured token cannot be used
 * twice. Kept in memory: every device request would otherwise need a database write, and a
 * token lives at most a few minutes. A restart empties the cache, so the device authenticator
 * also refuses tokens issued before the server started (see device-auth.ts).
 */
export class ReplayCache {
  private readonly seen = new Map<string, number>();
  private nextSweepAt = 0;

  constructor(
    private readonly now: () => number,
    /** Fail closed past this many live entries rather than grow without bound. */
    readonly maxEntries = 2_000_000,
    private readonly sweepEveryMs = 10_000,
  ) {}

  /**
   * Remember `key` until `expiresAtMs`. Returns 'fresh' the first time, 'replayed' when it is
   * already remembered, 'full' when the cache cannot take more entries.
   */
  remember(key: string, expiresAtMs: number): 'fresh' | 'replayed' | 'full' {
    const now = this.now();
    if (now >= this.nextSweepAt) this.sweep(now);
    const known = this.seen.get(key);
    if (known !== undefined && known > now) return 'replayed';
    if (this.seen.size >= this.maxEntries) {
      this.sweep(now);
      if (this.seen.size >= this.maxEntries) return 'full';
    }
    this.seen.set(key, expiresAtMs);
    return 'fresh';
  }

  get size(): number {
    return this.seen.size;
  }

  private sweep(now: number): void {
    for (const [key, expiresAt] of this.seen) if (expiresAt <= now) this.seen.delete(key);
    this.nextSweepAt = now + this.sweepEveryMs;
  }
}
