/** UTC day arithmetic for the rollups: days are whole numbers since the epoch, shown as YYYY-MM-DD. */
import { DAY_MS } from '../../policies/time.js';

export const dayNumber = (ms: number): number => Math.floor(ms / DAY_MS);
export const dayStartMs = (day: number): number => day * DAY_MS;
export const dayText = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** Let the event loop serve requests between slices of a long job. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class JobAborted extends Error {
  constructor() {
    super('the rollup job was stopped');
    this.name = 'JobAborted';
  }
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new JobAborted();
}
