/** Checking JSON log lines (shared by the server's and the agent's log tests). */

/** Keys that repeat within one JSON object of `line`, at any depth (JSON.parse would hide them). */
export function duplicateKeys(line: string): string[] {
  const duplicates: string[] = [];
  const objects: (Set<string> | null)[] = [];
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      const keys = objects[objects.length - 1];
      if (keys && line[j + 1] === ':') {
        const key = line.slice(i + 1, j);
        if (keys.has(key)) duplicates.push(key);
        keys.add(key);
      }
      i = j;
    } else if (c === '{') objects.push(new Set());
    else if (c === '[') objects.push(null);
    else if (c === '}' || c === ']') objects.pop();
  }
  return duplicates;
}
