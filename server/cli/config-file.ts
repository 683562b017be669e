/**
 * Where the admin CLI finds its server and token: flags, then AIGATE_SERVER / AIGATE_TOKEN,
 * then the config file written by `aigate login` (AIGATE_CONFIG, else
 * $XDG_CONFIG_HOME/aigate/config.json, else ~/.config/aigate/config.json; mode 0600).
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface CliConfig {
  server: string;
  token: string;
}

export type Env = Record<string, string | undefined>;

function configPath(env: Env): string {
  if (env.AIGATE_CONFIG) return env.AIGATE_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'aigate', 'config.json');
}

export class ConfigError extends Error {}

async function readConfig(env: Env): Promise<Partial<CliConfig>> {
  const file = configPath(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`${file} is not valid JSON; run aigate login again`);
  }
  const out: Partial<CliConfig> = {};
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.server === 'string') out.server = record.server;
    if (typeof record.token === 'string') out.token = record.token;
  }
  return out;
}

export async function writeConfig(env: Env, config: CliConfig): Promise<string> {
  const file = configPath(env);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}

export async function removeConfig(env: Env): Promise<string> {
  const file = configPath(env);
  await rm(file, { force: true });
  return file;
}

/** Flags win over the environment, which wins over the config file. */
export async function resolveConnection(flags: { server?: string; token?: string }, env: Env): Promise<CliConfig> {
  const file = await readConfig(env);
  const server = flags.server ?? env.AIGATE_SERVER ?? file.server;
  const token = flags.token ?? env.AIGATE_TOKEN ?? file.token;
  if (!server) throw new ConfigError('no server given: use --server URL, AIGATE_SERVER, or aigate login');
  if (!token) throw new ConfigError('no token given: use --token T, AIGATE_TOKEN, or aigate login');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new ConfigError(`"${server}" is not a URL (expected e.g. https://aigate.example.com)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`"${server}" must be an http:// or https:// URL`);
  // The dashboard's and the API docs' addresses are what a browser shows; the CLI needs the server's.
  const page = /\/(ui|docs)\/?$/.exec(url.pathname);
  if (page) {
    const base = `${url.origin}${url.pathname.slice(0, page.index)}`;
    throw new ConfigError(
      `"${server}" ends in /${page[1]}, the ${page[1] === 'ui' ? 'dashboard' : 'API documentation'} page; use the server URL: ${base}`,
    );
  }
  return { server: url.toString().replace(/\/+$/, ''), token };
}
