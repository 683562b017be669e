/**
 * Text for the admin's terminal. Anything the CLI prints may carry strings chosen by someone
 * else: an employee's exception reason, a device's hostname, a server's error message, a cell of
 * a CSV export. A terminal acts on control characters in them (ESC[2J clears the screen, OSC
 * sequences set the window title or write links, CR and backspace overwrite what was printed,
 * bidi overrides reorder it), so they are shown escaped instead: the admin sees that something
 * is there and what it is, and the terminal does nothing.
 *
 * Escaped: C0 controls U+0000–U+001F (ESC always), DEL U+007F and C1 controls U+0080–U+009F as
 * `\xHH`; bidi formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and
 * the line/paragraph separators U+2028, U+2029 as `\uHHHH`. A backslash is left alone, so
 * ordinary Windows paths stay readable. Sources: ECMA-48 (C0, C1, CSI 0x9B, OSC 0x9D) and
 * Unicode UAX #9 (explicit directional formatting characters).
 */

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Where a control character may stay: line breaks and tabs in multi-line text. */
export type Keep = '' | '\n' | '\n\t';

/**
 * Escape every control character in `text` except those listed in `keep` (default none, for a
 * single table cell or value). Never returns a raw ESC, C1 or bidi character.
 */
export function escapeControl(text: string, keep: Keep = ''): string {
  return text.replace(CONTROL, (char) => {
    if (keep.includes(char)) return char;
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * A template tag for one line of output: every interpolated value is escaped whole (a newline
 * in a hostname cannot start a forged line); the literal text is the CLI's own.
 */
export function line(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0]!;
  values.forEach((value, index) => {
    out += escapeControl(value === null || value === undefined ? '-' : String(value)) + strings[index + 1]!;
  });
  return out;
}

/**
 * JSON for a terminal or a pipe: JSON.stringify already writes C0 controls inside strings as
 * \u00XX (the only raw ones left are its own line breaks); DEL, C1 and bidi characters are
 * written as \uXXXX too, which any JSON reader decodes to the same value.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(CONTROL, (char) =>
    char === '\n' ? char : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Where a command writes: one call per line (the newline is added by the writer). */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
  /**
   * Machine data (a CSV or NDJSON export) for standard output: written as is when it goes to a
   * file or a pipe, escaped like everything else when it goes to a terminal. Default: `out`.
   */
  data?: (text: string) => void;
}

export const EXIT_OK = 0;
/** The command ran and the answer is "no": invalid policy, server error, broken chain. */
export const EXIT_INVALID = 1;
/** The command line itself was wrong. */
export const EXIT_USAGE = 2;

/**
 * The one place output is made safe for a terminal: every line through `out` and `err` has its
 * control characters escaped (line breaks and tabs of multi-line text stay). `data` is escaped
 * only when `dataIsTerminal`, so `aigate report export ... > file.csv` stays byte-exact.
 */
export function terminalSafe(io: Output, dataIsTerminal: boolean): Output {
  const out = (text: string) => io.out(escapeControl(text, '\n\t'));
  const raw = io.data ?? io.out;
  return {
    out,
    err: (text) => io.err(escapeControl(text, '\n\t')),
    data: dataIsTerminal ? (text) => raw(escapeControl(text)) : raw,
  };
}

/** The process's own streams, for the bins. */
export const processOutput: Output = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};
