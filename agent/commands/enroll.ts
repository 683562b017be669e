/** `aigate-agent enroll`: register this machine with an aigate server and pin its policy key. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import type { Command } from 'commander';

import { enrollDevice, EnrollError } from '../enroll.js';
import { machineFacts } from '../host/os.js';
import { defaultStateDir } from '../state/paths.js';
import { addStateDirOption, CliError, EXIT_USAGE } from './common.js';

interface EnrollFlags {
  server: string;
  secret?: string;
  secretFile?: string;
  stateDir: string;
  policyKeyFingerprint?: string;
  insecureHttp?: boolean;
  force?: boolean;
}

async function readSecret(flags: EnrollFlags): Promise<string> {
  if (flags.secret !== undefined && flags.secretFile !== undefined)
    throw new CliError('give the enroll secret once: --secret or --secret-file', EXIT_USAGE);
  if (flags.secret !== undefined) return flags.secret;
  if (flags.secretFile !== undefined) {
    try {
      return (await readFile(flags.secretFile, 'utf8')).trim();
    } catch (error) {
      throw new CliError(`cannot read --secret-file ${flags.secretFile}: ${(error as Error).message}`, EXIT_USAGE);
    }
  }
  const fromEnv = process.env.AIGATE_ENROLL_SECRET;
  if (fromEnv) return fromEnv.trim();
  throw new CliError('an enroll secret is needed: --secret S, --secret-file F, or AIGATE_ENROLL_SECRET', EXIT_USAGE);
}

export function registerEnroll(program: Command): void {
  const command = program
    .command('enroll')
    .description('register this machine with an aigate server and pin its policy signing key')
    .requiredOption('--server <url>', 'the aigate server, e.g. https://aigate.example.com')
    .option(
      '--secret <secret>',
      'enroll secret from `aigate enroll-secret create` (or --secret-file, or AIGATE_ENROLL_SECRET)',
    )
    .option('--secret-file <file>', 'read the enroll secret from a file (keeps it out of the process list)')
    .option(
      '--policy-key-fingerprint <fp>',
      'the policy key fingerprint aigate-server printed; enrollment is refused if the server has another key',
    )
    .option('--insecure-http', 'allow plain http to a host other than this machine (test networks only)')
    .option('--force', 'enroll again even if this machine is enrolled with another server');
  addStateDirOption(command).action(async (flags: EnrollFlags) => {
    const secret = await readSecret(flags);
    let outcome;
    try {
      outcome = await enrollDevice({
        server: flags.server,
        secret,
        stateDir: flags.stateDir,
        ...(flags.policyKeyFingerprint !== undefined ? { expectedFingerprint: flags.policyKeyFingerprint } : {}),
        insecureHttp: flags.insecureHttp === true,
        force: flags.force === true,
        facts: machineFacts(),
      });
    } catch (error) {
      if (error instanceof EnrollError) throw new CliError(`aigate-agent enroll: ${error.message}`);
      throw error;
    }
    const out = (line = '') => process.stdout.write(`${line}\n`);
    out(
      `${outcome.created ? 'Enrolled' : 'Enrolled again'} with ${outcome.serverUrl}: device ${outcome.deviceId}, group ${outcome.group}.`,
    );
    if (outcome.fingerprintVerified) {
      out(`Pinned the policy signing key ${outcome.fingerprint} (it matches --policy-key-fingerprint).`);
    } else {
      out(`Pinned the policy signing key ${outcome.fingerprint}.`);
      out(
        'Compare it with the fingerprint aigate-server printed at its first start; pass --policy-key-fingerprint next time to have it checked.',
      );
    }
    // Commands copied from here must reach this state: name it unless it is the default one.
    const stateFlag = flags.stateDir === resolve(defaultStateDir()) ? '' : ` --state-dir ${flags.stateDir}`;
    out(
      `State is kept in ${flags.stateDir}. Start the agent with: aigate-agent run${stateFlag} (usually as the aigate-agent service), or one cycle on the whole machine: aigate-agent once${stateFlag} (add --home <dir> to try it on one home).`,
    );
  });
}
