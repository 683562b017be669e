/**
 * The current signed policy, held in memory so polls never touch the database, and the
 * long-poll waiters that a publish wakes. Waiting costs a promise and a timer per request:
 * no database connection, no blocked event loop.
 */
export interface CurrentPolicy {
  revision: number;
  etag: string;
  bundle: string;
  publishedAt: number;
}

interface Waiter {
  resolve: (policy: CurrentPolicy | null) => void;
  timer: NodeJS.Timeout;
}

export class PolicyChannel {
  private policy: CurrentPolicy | null;
  private readonly waiters = new Set<Waiter>();

  constructor(initial: CurrentPolicy | null) {
    this.policy = initial;
  }

  get current(): CurrentPolicy | null {
    return this.policy;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  publish(policy: CurrentPolicy): void {
    this.policy = policy;
    this.releaseAll();
  }

  /**
   * Resolve with the current policy once it differs from `knownEtag`, or after `timeoutMs`
   * (then with whatever is current), or when `signal` aborts (client went away).
   */
  waitForChange(knownEtag: string | null, timeoutMs: number, signal?: AbortSignal): Promise<CurrentPolicy | null> {
    if (this.policy && this.policy.etag !== knownEtag) return Promise.resolve(this.policy);
    if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve(this.policy);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve: (policy) => {
          clearTimeout(waiter.timer);
          this.waiters.delete(waiter);
          signal?.removeEventListener('abort', onAbort);
          resolve(policy);
        },
        timer: setTimeout(() => waiter.resolve(this.policy), timeoutMs),
      };
      const onAbort = () => waiter.resolve(this.policy);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Answer every waiter now (on publish, and on shutdown so close is not held up). */
  releaseAll(): void {
    for (const waiter of [...this.waiters]) waiter.resolve(this.policy);
  }
}
