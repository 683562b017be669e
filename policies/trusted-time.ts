/**
 * Trusted time on an endpoint: the later of the local clock and the newest instant the server
 * has signed for this device (see signed-time.ts). A clock turned back cannot lift a ban; a
 * clock turned forward can only make a ban start early, which is the safe direction.
 */

/** Milliseconds since the epoch to evaluate policy at. Non-finite inputs are ignored. */
export function trustedNow(localClockMs: number, newestSignedServerTimeMs: number | null | undefined): number {
  const local = Number.isFinite(localClockMs) ? localClockMs : 0;
  if (
    newestSignedServerTimeMs === null ||
    newestSignedServerTimeMs === undefined ||
    !Number.isFinite(newestSignedServerTimeMs)
  )
    return local;
  return Math.max(local, newestSignedServerTimeMs);
}

/** True when the local clock is behind the signed floor by more than `toleranceMs` (worth reporting). */
export function clockBehindFloor(
  localClockMs: number,
  newestSignedServerTimeMs: number | null | undefined,
  toleranceMs = 5 * 60_000,
): boolean {
  if (newestSignedServerTimeMs === null || newestSignedServerTimeMs === undefined) return false;
  return newestSignedServerTimeMs - localClockMs > toleranceMs;
}
