/** How numbers, shares and times read on the dashboard (times in UTC, said so). */
import { noun } from '../../policies/plural.js';
import { DAY_MS, formatSpan, HOUR_MS, MINUTE_MS } from '../../policies/time.js';

export { noun };

const numbers = new Intl.NumberFormat('en-US');

export const count = (n: number): string => numbers.format(n);

export function percent(share: number | null, digits = 1): string {
  if (share === null || !Number.isFinite(share)) return '–';
  return `${(share * 100).toFixed(digits).replace(/\.0+$/, '')}%`;
}

/** A count with its word, the one way the dashboard says how many: "1 device", "1,204 devices". */
export const plural = (n: number, one: string, many = `${one}s`): string => `${count(n)} ${noun(n, one, many)}`;

/** `2026-06-20 00:00 UTC` */
export function utc(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return '–';
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) return String(value);
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `20 June 2026` */
export function longDate(value: number | string): string {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return new Date(ms).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** `in 9 days`, `3 hours ago`, `just now`, relative to `now`. */
export function relative(value: number | string | null | undefined, now: number): string {
  if (value === null || value === undefined) return 'never';
  const ms = typeof value === 'number' ? value : Date.parse(value);
  const delta = ms - now;
  const abs = Math.abs(delta);
  let text: string;
  if (abs < MINUTE_MS) return 'just now';
  if (abs < HOUR_MS) text = plural(Math.round(abs / MINUTE_MS), 'minute');
  else if (abs < DAY_MS) text = plural(Math.round(abs / HOUR_MS), 'hour');
  else text = plural(Math.round(abs / DAY_MS), 'day');
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

const ACTION_WORDS: Record<string, string> = { allow: 'allowed', warn: 'warned', block: 'blocked' };

/** "Claude Code becomes blocked in 9 days on 1,204 devices" */
export function describeChange(
  change: { toolName: string; from: string; to: string; at: string; devices: number },
  now: number,
): string {
  // The words `aigate policy explain` uses for the same instant (formatSpan), so the dashboard and
  // the CLI never disagree; a day count rounded up called a change in an hour "tomorrow".
  const ms = Date.parse(change.at) - now;
  const when = ms > 0 ? `in ${formatSpan(ms)}` : 'now';
  const what =
    change.to === 'allow'
      ? `${change.toolName} becomes allowed again`
      : change.from === 'allow' && change.to === 'warn'
        ? `${change.toolName} warnings start`
        : `${change.toolName} becomes ${ACTION_WORDS[change.to] ?? change.to}`;
  return `${what} ${when} on ${plural(change.devices, 'device')}`;
}
