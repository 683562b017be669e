/**
 * The catalog's npm facts and the pure identification over them: every package name in the
 * catalog is one npm accepts (validate-npm-package-name, npm's own rules), repositories are
 * written normalized, and a package folder is known by name, platform family (also aliased) or
 * by content (bin name + repository/homepage) whatever its folder or "name" says.
 */
import validate from 'validate-npm-package-name';
import { describe, expect, it } from 'vitest';

import { builtinCatalog, catalogIndex } from '../../policies/catalog/index.js';
import {
  identifyNpmPackage,
  normalizeSourceUrl,
  type NpmPackageFacts,
  splitPlatformSuffix,
  toolVersion,
} from '../../policies/catalog/npm.js';

const index = catalogIndex(builtinCatalog);
const facts = (over: Partial<NpmPackageFacts>): NpmPackageFacts => ({
  folderName: null,
  name: null,
  version: '1.0.0',
  bins: [],
  urls: [],
  ...over,
});
const brief = (f: Partial<NpmPackageFacts>) => {
  const id = identifyNpmPackage(index, facts(f));
  return id && `${id.tool.id} ${id.role} ${id.version}`;
};

describe('npm names in the catalog', () => {
  const names = builtinCatalog.tools.flatMap((t) => (t.detect.npm ?? []).map((n) => [t.id, n] as const));
  const families = builtinCatalog.tools.flatMap((t) =>
    (t.detect.npmPlatformFamilies ?? []).map((n) => [t.id, n] as const),
  );

  it.each(names)('%s: %s is a valid npm package name', (_id, name) => {
    const result = validate(name);
    expect(result.errors ?? [], name).toEqual([]);
    expect(result.validForNewPackages, `${name}: ${(result.warnings ?? []).join('; ')}`).toBe(true);
  });

  it.each(families)('%s: platform packages of %s are valid npm names', (_id, base) => {
    for (const platform of ['linux-x64', 'darwin-arm64', 'win32-x64', 'linux-x64-musl'])
      expect(validate(`${base}-${platform}`).validForNewPackages).toBe(true);
  });

  it("lists amp's new package and the Kilo CLI, and keeps the unpublished iFlow name for installed copies", () => {
    expect(index.bySignature('npm', '@ampcode/cli')?.id).toBe('amp');
    expect(index.bySignature('npm', '@sourcegraph/amp')?.id).toBe('amp');
    expect(index.bySignature('npm', '@kilocode/cli')?.id).toBe('kilo-cli');
    expect(index.bySignature('npm', '@iflow-ai/iflow-cli')?.id).toBe('iflow-cli');
  });

  it('writes repositories normalized', () => {
    const bad = builtinCatalog.tools.flatMap((t) =>
      (t.detect.repositories ?? []).filter((r) => normalizeSourceUrl(r) !== r),
    );
    expect(bad).toEqual([]);
  });
});

describe('platform suffixes', () => {
  it.each([
    ['@openai/codex-linux-x64', '@openai/codex', 'linux-x64'],
    ['@github/copilot-linuxmusl-arm64', '@github/copilot', 'linuxmusl-arm64'],
    ['opencode-linux-x64-baseline-musl', 'opencode', 'linux-x64-baseline-musl'],
    ['@anthropic-ai/claude-code-win32-arm64', '@anthropic-ai/claude-code', 'win32-arm64'],
    ['0.111.0-linux-x64', '0.111.0', 'linux-x64'],
    ['0.169.0-darwin-arm64', '0.169.0', 'darwin-arm64'],
  ])('%s -> %s + %s', (value, base, platform) => {
    expect(splitPlatformSuffix(value)).toEqual({ base, platform });
  });
  it.each(['@openai/codex', 'linux-x64', '1.0.0-beta.1', 'left-pad', '2.1.50', 'x-linux'])('%s has none', (value) => {
    expect(splitPlatformSuffix(value)).toBeNull();
  });
  it("gives a platform package's version without the suffix", () => {
    expect(toolVersion('0.111.0-linux-x64')).toBe('0.111.0');
    expect(toolVersion('0.0.1790712063-gb89205')).toBe('0.0.1790712063-gb89205');
  });
});

describe('normalizeSourceUrl', () => {
  it.each([
    ['git+https://github.com/openai/codex.git', 'github.com/openai/codex'],
    ['https://github.com/github/copilot-cli/#readme', 'github.com/github/copilot-cli'],
    ['git@github.com:QwenLM/qwen-code.git', 'github.com/qwenlm/qwen-code'],
    ['github:anthropics/claude-code', 'github.com/anthropics/claude-code'],
    ['anthropics/claude-code', 'github.com/anthropics/claude-code'],
    ['https://ampcode.com/', 'ampcode.com'],
    ['https://www.augmentcode.com', 'augmentcode.com'],
    ['git://github.com/cline/cline', 'github.com/cline/cline'],
  ])('%s -> %s', (raw, expected) => {
    expect(normalizeSourceUrl(raw)).toBe(expected);
  });
  it.each(['', 'not a url', 'javascript:alert(1)', 'x'.repeat(3000)])('%j is not a source URL', (raw) => {
    expect(normalizeSourceUrl(raw)).toBeNull();
  });
});

describe('identifyNpmPackage', () => {
  it('knows a tool by folder or by manifest name', () => {
    expect(brief({ folderName: '@openai/codex', name: '@openai/codex', version: '0.111.0' })).toBe(
      'openai-codex-cli tool 0.111.0',
    );
    expect(brief({ folderName: 'anything', name: '@anthropic-ai/claude-code', version: '2.0.46' })).toBe(
      'claude-code tool 2.0.46',
    );
    expect(brief({ folderName: null, name: '@anthropic-ai/claude-code', version: '2.0.45' })).toBe(
      'claude-code tool 2.0.45',
    );
  });

  it("takes a platform package (also aliased) for part of its tool, at the tool's version", () => {
    // openai/codex#13555's workaround: folder @openai/codex-linux-x64, manifest "@openai/codex" "0.111.0-linux-x64"
    expect(brief({ folderName: '@openai/codex-linux-x64', name: '@openai/codex', version: '0.111.0-linux-x64' })).toBe(
      'openai-codex-cli platform 0.111.0',
    );
    // bun keeps the aliased folder name out of it: only the manifest tells
    expect(brief({ folderName: null, name: '@openai/codex', version: '0.169.0-linux-x64' })).toBe(
      'openai-codex-cli platform 0.169.0',
    );
    expect(
      brief({
        folderName: '@anthropic-ai/claude-code-linux-x64',
        name: '@anthropic-ai/claude-code-linux-x64',
        version: '2.1.200',
      }),
    ).toBe('claude-code platform 2.1.200');
    expect(
      brief({ folderName: 'opencode-linux-x64-baseline', name: 'opencode-linux-x64-baseline', version: '1.18.33' }),
    ).toBe('opencode platform 1.18.33');
    expect(
      brief({ folderName: '@kilocode/cli-linux-x64-musl', name: '@kilocode/cli-linux-x64-musl', version: '7.8.1' }),
    ).toBe('kilo-cli platform 7.8.1');
  });

  it('knows a copy whose name was edited by its bin and repository/homepage', () => {
    expect(
      brief({
        folderName: 'my-helper',
        name: 'my-helper',
        version: '2.0.46',
        bins: ['claude'],
        urls: ['https://github.com/anthropics/claude-code'],
      }),
    ).toBe('claude-code tool 2.0.46');
    expect(brief({ name: 'x', bins: ['amp'], urls: ['https://ampcode.com/'] })).toBe('amp tool 1.0.0');
  });

  it('needs both signals: a bin name alone, or a repository alone, is not the tool', () => {
    expect(brief({ name: 'claude', bins: ['claude'], urls: ['https://github.com/someone/claude'] })).toBeNull();
    // @openai/codex-sdk shares codex's repository but has no codex bin
    expect(
      brief({ name: '@openai/codex-sdk', bins: [], urls: ['git+https://github.com/openai/codex.git'] }),
    ).toBeNull();
    expect(brief({ name: 'left-pad', bins: ['left-pad'], urls: ['https://github.com/left-pad/left-pad'] })).toBeNull();
  });
});
