/**
 * English singular and plural for counts in the CLIs and the dashboard: "1 tool", "2 tools",
 * never "tool(s)". Chosen with Intl.PluralRules, so "1" is singular and everything else (0, 2,
 * 1.5) plural, as CLDR's English rules say. Pure.
 */
const english = new Intl.PluralRules('en-US');

/** The word for `n` things: `noun(1, 'device')` is "device", `noun(2, 'device')` "devices". */
export const noun = (n: number, one: string, many = `${one}s`): string => (english.select(n) === 'one' ? one : many);

/** A count and its word: `counted(1, 'tool')` is "1 tool", `counted(3, 'process', 'processes')` "3 processes". */
export const counted = (n: number, one: string, many = `${one}s`): string => `${n} ${noun(n, one, many)}`;
