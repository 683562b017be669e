/**
 * What the agent reports about a machine: tool instances found on disk, and facts about the
 * device. Shared by the agent (producer), the evaluator and the server (check-in bodies).
 */
import { type Static, Type } from '@sinclair/typebox';

import { OsName } from './schema.js';

const CHANNELS = [
  'npm',
  'native',
  'legacy-local',
  'pipx',
  'uv',
  'pip',
  'homebrew-formula',
  'homebrew-cask',
  'vscode-extension',
  'jetbrains-plugin',
  'app-bundle',
  'windows-program',
  'linux-package',
  'binary',
] as const;
const Channel = Type.Union(CHANNELS.map((c) => Type.Literal(c)));
export type Channel = Static<typeof Channel>;

export const ToolInstance = Type.Object(
  {
    /** A catalog id; tools not in the catalog use `unknown:<channel>:<name>`. */
    toolId: Type.String({ minLength: 1, maxLength: 300 }),
    /** Display name; for unknown tools the package or distribution name. */
    name: Type.Optional(Type.String({ maxLength: 300 })),
    version: Type.Union([Type.String({ minLength: 1, maxLength: 100 }), Type.Null()]),
    /** Why the version could not be read, when `version` is null. */
    versionError: Type.Optional(Type.String({ maxLength: 500 })),
    channel: Channel,
    installPath: Type.String({ minLength: 1, maxLength: 4096 }),
    launchers: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 100 }),
    /**
     * Folders outside `installPath` holding this instance's code: a per-platform package with the
     * native binary that yarn, bun or pnpm hoisted beside the tool, or that was installed at top
     * level under an alias. Never an instance of its own; quarantined with the instance.
     */
    parts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { maxItems: 50 })),
    /** User name owning the install (the home it was found in, or the file owner). */
    owner: Type.Union([Type.String({ maxLength: 200 }), Type.Null()]),
    evidence: Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 50 }),
    /** Editor for extensions (vscode, cursor, windsurf, ...) or IDE for JetBrains plugins. */
    host: Type.Optional(Type.String({ maxLength: 100 })),
    running: Type.Optional(Type.Boolean()),
    pids: Type.Optional(Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 1000 })),
  },
  { additionalProperties: false },
);
export type ToolInstance = Static<typeof ToolInstance>;

export const DeviceFacts = Type.Object(
  {
    deviceId: Type.Optional(Type.String({ maxLength: 200 })),
    hostname: Type.Optional(Type.String({ maxLength: 255 })),
    group: Type.Optional(Type.String({ maxLength: 200 })),
    os: OsName,
  },
  { additionalProperties: false },
);
export type DeviceFacts = Static<typeof DeviceFacts>;

/** The key that identifies one instance on one device across scans. */
export function instanceKey(instance: Pick<ToolInstance, 'toolId' | 'installPath'>): string {
  return `${instance.toolId}\u0000${instance.installPath}`;
}
