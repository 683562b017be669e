/**
 * The clock policy is evaluated with: max(local clock, newest server-signed time), as design.md
 * says, so turning the laptop clock back does not lift a ban. Within one run the signed floor
 * also moves forward with the monotonic clock (which nobody can turn back), so a clock turned
 * back while the agent runs offline does not stop time either. The floor and the statement it
 * came from are stored; the statement is verified again when read.
 */
import { Type } from '@sinclair/typebox';
import type { JWK } from 'jose';

import { verifyServerTime } from '../../policies/signed-time.js';
import { clockBehindFloor, trustedNow } from '../../policies/trusted-time.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import { PRIVATE_FILE_MODE } from '../state/paths.js';

const TimeFloor = Type.Object(
  { floorMs: Type.Integer({ minimum: 0 }), token: Type.String(), updatedAt: Type.String() },
  { additionalProperties: false },
);

const monotonicMs = () => Number(process.hrtime.bigint() / 1_000_000n);

export class TrustedClock {
  private floorMs: number | null = null;
  private floorSeenAt = 0;

  constructor(
    private readonly file: string,
    private readonly keys: readonly JWK[],
    private readonly deviceId: string,
    /** The local clock (tests may override it; the floor still wins). */
    readonly localClock: () => number = Date.now,
  ) {}

  /** Reads the stored floor; a statement that no longer verifies is ignored (and reported). */
  async load(): Promise<string | null> {
    const read = await readJsonFile(this.file, TimeFloor);
    if (!read.ok) return read.missing ? null : read.message;
    const verified = await verifyServerTime(read.value.token, { trustedKeys: this.keys, deviceId: this.deviceId });
    if (!verified.ok) return `the stored server time does not verify (${verified.message}); ignoring it`;
    this.set(verified.timeMs);
    return null;
  }

  /** The newest signed server time, moved forward by the monotonic time since it was seen. */
  get floor(): number | null {
    return this.floorMs === null ? null : this.floorMs + (monotonicMs() - this.floorSeenAt);
  }

  now(): number {
    return trustedNow(this.localClock(), this.floor);
  }

  /** True when the local clock is well behind the signed floor (worth showing and reporting). */
  clockBehind(): boolean {
    return clockBehindFloor(this.localClock(), this.floor);
  }

  /** Verifies a signed time from a check-in reply and raises the floor. Returns why it was refused, if it was. */
  async observe(token: string): Promise<string | null> {
    const verified = await verifyServerTime(token, { trustedKeys: this.keys, deviceId: this.deviceId });
    if (!verified.ok) return verified.message;
    const current = this.floor;
    if (current !== null && verified.timeMs <= current) return null;
    this.set(verified.timeMs);
    await writeJsonFile(
      this.file,
      { floorMs: verified.timeMs, token, updatedAt: new Date(this.localClock()).toISOString() },
      PRIVATE_FILE_MODE,
    );
    return null;
  }

  private set(timeMs: number): void {
    this.floorMs = timeMs;
    this.floorSeenAt = monotonicMs();
  }
}
