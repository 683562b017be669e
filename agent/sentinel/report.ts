/**
 * Reporting what the sentinel learned: the fingerprints of catalogued tools' files on this
 * device go to the server (POST /v1/fingerprints), which ships them to every agent once an admin
 * approves them or other devices corroborate them (server/services/fingerprint-service.ts).
 * Each SHA-256 is sent once per run of the agent; a body the server refuses is not sent again
 * unchanged (the next scan may change it), and a server without the route is not asked again.
 */
import { FingerprintsReply, MAX_FINGERPRINTS_PER_REPORT, type ToolFingerprint } from '../../policies/protocol.js';
import { checkReply, errorMessage, replyError } from '../net/contact.js';
import type { HttpReply, RequestOptions } from '../net/device-http.js';

/** The part of DeviceHttp the reporter uses. */
export interface DeviceRequester {
  request(method: string, path: string, options?: RequestOptions): Promise<HttpReply>;
}

export interface ReportOutcome {
  /** Fingerprints the server took in this call. */
  sent: number;
  /** Why the server refused a body (nothing of that body was stored), or null. */
  refused: string | null;
}

export class FingerprintReporter {
  private readonly sent = new Set<string>();
  private readonly refusedBodies = new Set<string>();
  private unsupported = false;

  constructor(private readonly http: DeviceRequester) {}

  /**
   * Sends the fingerprints not sent yet, at most MAX_FINGERPRINTS_PER_REPORT per body. Throws a
   * ContactError (agent/net/contact.ts) when the server cannot be reached or fails.
   */
  report(learned: readonly ToolFingerprint[]): Promise<ReportOutcome> {
    // One report at a time: a call while one runs waits for it (what it sends is not sent twice).
    const run = this.previous.then(() => this.send(learned));
    this.previous = run.catch(() => undefined);
    return run;
  }

  private previous: Promise<unknown> = Promise.resolve();

  private async send(learned: readonly ToolFingerprint[]): Promise<ReportOutcome> {
    const outcome: ReportOutcome = { sent: 0, refused: null };
    if (this.unsupported) return outcome;
    const pending = learned.filter((fp) => !this.sent.has(fp.sha256));
    for (let i = 0; i < pending.length; i += MAX_FINGERPRINTS_PER_REPORT) {
      const chunk = pending.slice(i, i + MAX_FINGERPRINTS_PER_REPORT);
      const key = chunk.map((fp) => `${fp.sha256}:${fp.toolId}:${fp.version}`).join(',');
      if (this.refusedBodies.has(key)) continue;
      const reply = await this.http.request('POST', '/v1/fingerprints', { body: { fingerprints: chunk } });
      if (reply.status === 404) {
        // A server from before fleet fingerprints: the route does not exist (it never answers 404 otherwise).
        this.unsupported = true;
        return { ...outcome, refused: 'the server does not take fingerprints' };
      }
      if (reply.status === 400) {
        this.refusedBodies.add(key);
        outcome.refused = errorMessage(reply);
        continue;
      }
      if (reply.status !== 200) throw replyError('POST /v1/fingerprints', reply);
      checkReply(FingerprintsReply, 'POST /v1/fingerprints', reply);
      for (const fp of chunk) this.sent.add(fp.sha256);
      outcome.sent += chunk.length;
    }
    return outcome;
  }
}
