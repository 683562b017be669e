/**
 * The catalog of developer AI tools: data (catalog.json beside this file), validated by this
 * schema. Each tool carries the signatures the agent's scanners match on; none of them require
 * running the tool.
 */
import { type Static, Type } from '@sinclair/typebox';

export const CATEGORIES = ['cli', 'ide-extension', 'desktop-app', 'ide'] as const;
export const Category = Type.Union(
  CATEGORIES.map((c) => Type.Literal(c)),
  {
    description: 'cli | ide-extension | desktop-app | ide',
  },
);
export type Category = Static<typeof Category>;

const Names = (description: string) =>
  Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description }));

export const Signatures = Type.Object(
  {
    npm: Names('npm package names (global installs, version managers, pnpm, bun, Volta)'),
    /**
     * Base names of the per-platform packages that carry the tool's native binary:
     * `<base>-<os>-<arch>[-<variant>...]` (e.g. `@anthropic-ai/claude-code` for
     * `@anthropic-ai/claude-code-linux-x64-musl`, `opencode` for `opencode-linux-x64-baseline`).
     * Such a package is part of the tool's instance, never a tool of its own.
     */
    npmPlatformFamilies: Names('base names of per-platform packages: <base>-<os>-<arch>[-<variant>]'),
    /**
     * Where the tool's npm manifest points (`repository` or `homepage`), as host/path lower-case
     * without scheme, `.git` or fragment: `github.com/anthropics/claude-code`, `ampcode.com`.
     * With one of the tool's bin names, it identifies a copy whose `name` was edited.
     */
    repositories: Names('repository/homepage of the npm manifest, host/path lower-case'),
    binaries: Names('launcher names on PATH, without a Windows extension'),
    /**
     * Binary names so generic (`goose`, `amp`, `q`, `agent`) that a bare file on PATH is not
     * enough: a second signal (package metadata or a known install dir) is required.
     */
    ambiguousBinaries: Names('binary names that need a second signal'),
    nativeVersionDirs: Names(
      'home-relative folders whose entries are named by version, e.g. .local/share/claude/versions',
    ),
    localNpmDirs: Names(
      "home-relative folders holding a private node_modules with the tool's npm package, e.g. .claude/local",
    ),
    pypi: Names('Python distribution names (pip, pipx, uv), normalised lower-case with -'),
    brewFormulae: Names('Homebrew formula names (tap prefix allowed)'),
    brewCasks: Names('Homebrew cask tokens'),
    vscodeExtensions: Names('VS Code-family extension ids, publisher.name, lower-case'),
    jetbrainsPlugins: Names('JetBrains plugin ids or plugin folder names'),
    macBundleIds: Names('macOS CFBundleIdentifier values'),
    macAppNames: Names('macOS .app bundle names, e.g. Cursor.app'),
    windowsPaths: Names('Windows install folders with %ENV% placeholders'),
    linuxPaths: Names('Linux install folders of desktop apps and system packages'),
    linuxPackages: Names(
      'Linux distribution package names (dpkg, apk), e.g. claude-code from the vendor apt repository',
    ),
  },
  { additionalProperties: false },
);
export type Signatures = Static<typeof Signatures>;

/**
 * What the tool's entry file (the JS bundle a bin points to) always contains, whatever its
 * manifest says: identity by content (policies/catalog/content.ts). Checked on the real releases
 * in the test cache (test/policies/catalog-content.test.ts).
 */
const ContentSignature = Type.Object(
  {
    markers: Type.Array(Type.String({ minLength: 8, pattern: '^[\\x20-\\x7e]+$' }), {
      minItems: 1,
      description: 'ASCII strings that must ALL occur in the first or last CONTENT_WINDOW_BYTES of the file',
    }),
    version: Type.Optional(
      Type.String({ minLength: 1, description: 'regular expression (multiline) whose group 1 is the version' }),
    ),
  },
  { additionalProperties: false },
);
export type ContentSignature = Static<typeof ContentSignature>;

export const CatalogTool = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', description: 'stable kebab-case id used in policies' }),
    name: Type.String({ minLength: 1 }),
    vendor: Type.String({
      pattern: '^[a-z0-9]+(-[a-z0-9]+)*$',
      description: 'vendor slug used by vendor:<slug> selectors',
    }),
    vendorName: Type.String({ minLength: 1 }),
    category: Category,
    homepage: Type.Optional(Type.String({ minLength: 1 })),
    aliases: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: 'other names people use; helps "did you mean"' }),
    ),
    notes: Type.Optional(Type.String()),
    detect: Signatures,
    content: Type.Optional(ContentSignature),
  },
  { additionalProperties: false },
);
export type CatalogTool = Static<typeof CatalogTool>;

export const Catalog = Type.Object(
  {
    catalogVersion: Type.String({
      pattern: '^\\d{4}\\.\\d{1,2}\\.\\d+$',
      description: 'YYYY.M.N, increases with every change',
    }),
    tools: Type.Array(CatalogTool, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type Catalog = Static<typeof Catalog>;
