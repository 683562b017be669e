/**
 * Where the agent keeps its state, and the layout inside. The directory itself is readable by
 * everyone (so employees can read status.json and stubs can drop launch records), while every
 * file holding a secret or a decision is readable by the agent alone.
 *
 *   config.json        0600  server, device id, group, pinned policy key(s)
 *   device-key.pem     0600  the device's Ed25519 private key
 *   agent.lock         0644  pid of the agent using this directory
 *   policy/            0700  bundle.jws (last verified bundle), state.json (revision floor, ETag)
 *   time.json          0600  trusted-time floor and the signed statement it came from
 *   enforcement.json   0600  write-ahead ledger: what is applied, and the operation in flight
 *   spool/             0700  one file per event not yet acknowledged by the server
 *   spool-losses.json  0600  events lost (spool full, unwritable, set aside) not yet reported; kept
 *                            outside spool/ so a full spool file system can still count its losses
 *   launches/          1733  stubs (running as the employee) drop launch records here
 *   requests/          1733  `request-exception` drops requests here for the agent to send
 *   status.json        0644  what `aigate-agent status` shows; no secrets
 */
import { join } from 'node:path';

const STATE_DIR_ENV = 'AIGATE_STATE_DIR';

/** The per-OS default: /var/lib/aigate, /Library/Application Support/aigate, %ProgramData%\aigate. */
export function defaultStateDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const fromEnv = env[STATE_DIR_ENV];
  if (fromEnv) return fromEnv;
  if (platform === 'darwin') return '/Library/Application Support/aigate';
  if (platform === 'win32') return join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', 'aigate');
  return '/var/lib/aigate';
}

export interface StatePaths {
  root: string;
  config: string;
  deviceKey: string;
  lock: string;
  policyDir: string;
  bundle: string;
  policyState: string;
  time: string;
  enforcement: string;
  spoolDir: string;
  /** The spool's loss counter (outside the spool folder). */
  spoolLosses: string;
  launchesDir: string;
  requestsDir: string;
  status: string;
  exceptions: string;
}

export function statePaths(root: string): StatePaths {
  const policyDir = join(root, 'policy');
  return {
    root,
    config: join(root, 'config.json'),
    deviceKey: join(root, 'device-key.pem'),
    lock: join(root, 'agent.lock'),
    policyDir,
    bundle: join(policyDir, 'bundle.jws'),
    policyState: join(policyDir, 'state.json'),
    time: join(root, 'time.json'),
    enforcement: join(root, 'enforcement.json'),
    spoolDir: join(root, 'spool'),
    spoolLosses: join(root, 'spool-losses.json'),
    launchesDir: join(root, 'launches'),
    requestsDir: join(root, 'requests'),
    status: join(root, 'status.json'),
    exceptions: join(root, 'exceptions.json'),
  };
}

export const PRIVATE_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;
export const PRIVATE_DIR_MODE = 0o700;
/** World-writable with the sticky bit and no listing: anyone may drop a file, nobody may read or remove another's. */
export const DROP_DIR_MODE = 0o1733;
