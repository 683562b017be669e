/**
 * Policy polls are reads; writing `last_seen_at` on each would turn the hottest path into a
 * database write. Polls are noted here and flushed in one transaction every few seconds (and on
 * shutdown). Check-ins and events write it directly as part of their own transactions.
 */
export class LastSeenTracker {
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly flushTo: (seen: ReadonlyMap<string, number>) => void,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  note(deviceId: string, at: number): void {
    this.pending.set(deviceId, at);
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushTo(batch);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.flush();
  }
}
