/** The enrollment: which server, which device, which policy keys are pinned. */
import { type Static, Type } from '@sinclair/typebox';

import { PublicJwk } from '../../policies/keys.js';
import { readJsonFile, writeJsonFile } from './json-file.js';
import { PRIVATE_FILE_MODE } from './paths.js';

export const AgentConfig = Type.Object(
  {
    version: Type.Literal(1),
    serverUrl: Type.String({ minLength: 1 }),
    /** Plain http to a non-loopback host was explicitly allowed at enrollment. */
    insecureHttp: Type.Boolean(),
    deviceId: Type.String({ minLength: 1, maxLength: 200 }),
    group: Type.String(),
    audience: Type.String({ minLength: 1 }),
    hostname: Type.String(),
    /** Policy signing keys this device trusts; bundles and server times must be signed by one of them. */
    policyKeys: Type.Array(PublicJwk, { minItems: 1, maxItems: 10 }),
    policyKeyFingerprints: Type.Array(Type.String(), { minItems: 1, maxItems: 10 }),
    enrolledAt: Type.String(),
  },
  { additionalProperties: false },
);
export type AgentConfig = Static<typeof AgentConfig>;

export class NotEnrolledError extends Error {
  constructor(stateDir: string, detail?: string) {
    super(
      detail ??
        `this machine is not enrolled (no configuration in ${stateDir}); run: aigate-agent enroll --server URL --secret SECRET${stateDir ? ` --state-dir ${JSON.stringify(stateDir)}` : ''}`,
    );
    this.name = 'NotEnrolledError';
  }
}

export async function loadConfig(path: string, stateDir: string): Promise<AgentConfig> {
  const read = await readJsonFile(path, AgentConfig);
  if (read.ok) return read.value;
  if (read.missing) throw new NotEnrolledError(stateDir);
  throw new NotEnrolledError(
    stateDir,
    `the agent configuration is damaged: ${read.message}; enroll again with aigate-agent enroll --force`,
  );
}

export function saveConfig(path: string, config: AgentConfig): Promise<void> {
  return writeJsonFile(path, config, PRIVATE_FILE_MODE);
}
