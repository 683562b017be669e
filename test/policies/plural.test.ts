/** Counts read as English: "1 tool", "2 tools", never "tool(s)" (issue 14, plurals right). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { counted, noun } from '../../policies/plural.js';

describe('counted and noun', () => {
  it.each([
    [0, 'tool', undefined, '0 tools'],
    [1, 'tool', undefined, '1 tool'],
    [2, 'tool', undefined, '2 tools'],
    [1, 'running process', 'running processes', '1 running process'],
    [3, 'running process', 'running processes', '3 running processes'],
    [1.5, 'day', undefined, '1.5 days'],
  ])('%s %s', (n, one, many, expected) => {
    expect(counted(n, one, many)).toBe(expected);
  });

  it('gives the bare word too', () => {
    expect(noun(1, 'device')).toBe('device');
    expect(noun(21, 'device')).toBe('devices');
  });

  it('leaves no "(s)" or "(es)" in what the agent and the admin CLI print', () => {
    const root = join(import.meta.dirname, '..', '..');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const file = join(dir, name);
        if (statSync(file).isDirectory()) walk(file);
        else if (name.endsWith('.ts'))
          readFileSync(file, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              // Text in template literals or strings, not comments.
              if (/\w\((?:s|es)\)/.test(line) && !/^\s*(\/\/|\*|\/\*)/.test(line)) offenders.push(`${file}:${i + 1}`);
            });
      }
    };
    walk(join(root, 'agent'));
    walk(join(root, 'server', 'cli'));
    expect(offenders).toEqual([]);
  });
});
