/**
 * A problem found in a policy (or in a request built from one), and how it is written for
 * people: `file:line:column: field.path: message`. Shared by the loader, the server's error
 * replies and both CLIs; kept apart from the loader so printing one needs no parser.
 */

export interface Problem {
  /** Field path such as `spec.rules[0].action`; empty for the document itself. */
  path: string;
  message: string;
  /** 1-based line and column in the source text, when known. */
  line?: number;
  column?: number;
}

/**
 * `['spec', 'rules', 0, 'action']` -> `spec.rules[0].action`; a key that is not a plain name
 * is quoted (`labels["team lead"]`), so the path reads back unambiguously.
 */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (!/^[A-Za-z_$][\w$-]*$/.test(segment)) out += `[${JSON.stringify(segment)}]`;
    else out += out ? `.${segment}` : segment;
  }
  return out;
}

/** A JSON Pointer (RFC 6901, as TypeBox reports paths: `/spec/rules/0`) as path segments; digits become indexes. */
export function pointerSegments(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `file:line:column: path: message`, leaving out the parts that are not known. */
export function formatProblem(problem: Problem, filename?: string): string {
  const where = [filename, problem.line, problem.line !== undefined ? problem.column : undefined]
    .filter((p) => p !== undefined)
    .join(':');
  const path = problem.path ? `${problem.path}: ` : '';
  return `${where ? `${where}: ` : ''}${path}${problem.message}`;
}
