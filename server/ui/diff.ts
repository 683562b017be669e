/**
 * Line diff between two policy sources (longest common subsequence), as unified hunks with a
 * few lines of context, for "what changed in this revision".
 */
export interface DiffLine {
  kind: 'same' | 'add' | 'remove';
  text: string;
  /** Line numbers in the old and new text (null where the line is not in that side). */
  oldLine: number | null;
  newLine: number | null;
}

export interface Hunk {
  lines: DiffLine[];
}

/** Beyond this many lines on a side the table would be too large; callers show both texts instead. */
const MAX_DIFF_LINES = 3000;

export function diffLines(before: string, after: string): DiffLine[] | null {
  const a = before.replace(/\n$/, '').split('\n');
  const b = after.replace(/\n$/, '').split('\n');
  if (a.length > MAX_DIFF_LINES || b.length > MAX_DIFF_LINES) return null;
  // Skip the common head and tail, then LCS on what is left.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const n = midA.length;
  const m = midB.length;
  const lcs = new Uint16Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] =
        midA[i] === midB[j]
          ? lcs[(i + 1) * (m + 1) + j + 1]! + 1
          : Math.max(lcs[(i + 1) * (m + 1) + j]!, lcs[i * (m + 1) + j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  for (let k = 0; k < head; k++) out.push({ kind: 'same', text: a[k]!, oldLine: k + 1, newLine: k + 1 });
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && midA[i] === midB[j]) {
      out.push({ kind: 'same', text: midA[i]!, oldLine: head + i + 1, newLine: head + j + 1 });
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[(i + 1) * (m + 1) + j]! >= lcs[i * (m + 1) + j + 1]!)) {
      // Removals first: a changed line reads as the old one, then the new one.
      out.push({ kind: 'remove', text: midA[i]!, oldLine: head + i + 1, newLine: null });
      i++;
    } else {
      out.push({ kind: 'add', text: midB[j]!, oldLine: null, newLine: head + j + 1 });
      j++;
    }
  }
  for (let k = 0; k < tail; k++) {
    const oldIndex = a.length - tail + k;
    const newIndex = b.length - tail + k;
    out.push({ kind: 'same', text: a[oldIndex]!, oldLine: oldIndex + 1, newLine: newIndex + 1 });
  }
  return out;
}

/** Group a diff into hunks of changes with `context` unchanged lines around them. */
export function hunks(lines: readonly DiffLine[], context = 3): Hunk[] {
  const changed = lines.map((line) => line.kind !== 'same');
  const keep = lines.map((_, index) => {
    for (let k = Math.max(0, index - context); k <= Math.min(lines.length - 1, index + context); k++)
      if (changed[k]) return true;
    return false;
  });
  const result: Hunk[] = [];
  let current: DiffLine[] | null = null;
  lines.forEach((line, index) => {
    if (keep[index]) {
      if (!current) result.push({ lines: (current = []) });
      current.push(line);
    } else current = null;
  });
  return result;
}
