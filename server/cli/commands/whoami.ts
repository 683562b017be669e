/** `aigate login`, `aigate logout` and `aigate whoami`: the connection to a server. */
import type { Static } from '@sinclair/typebox';

import { AdminClient } from '../../client/admin-client.js';
import type { WhoamiReply } from '../../routes/admin/index.js';
import { removeConfig, resolveConnection, writeConfig } from '../config-file.js';
import { EXIT_OK, EXIT_USAGE, line } from '../output.js';
import { type CliContext, reportError, withClient } from './common.js';

type Whoami = Static<typeof WhoamiReply>;

export function registerWhoami(context: CliContext): void {
  const { program, io, env, setExit } = context;
  program
    .command('login')
    .description('check --server and --token, and save them for later commands')
    .action(async () => {
      // --server and --token are the program's own options (they also work before `login`).
      const flags = program.opts<{ server?: string; token?: string }>();
      if (!flags.server || !flags.token) {
        io.err('aigate: login needs --server URL and --token TOKEN');
        setExit(EXIT_USAGE);
        return;
      }
      try {
        const connection = await resolveConnection(flags, {});
        const who = await new AdminClient(connection.server, connection.token).get<Whoami>('/whoami');
        const file = await writeConfig(env, connection);
        io.out(line`logged in to ${connection.server} as "${who.name}" (${who.role}); saved to ${file}`);
        setExit(EXIT_OK);
      } catch (error) {
        setExit(reportError(error, io));
      }
    });
  program
    .command('logout')
    .description('forget the saved server and token')
    .action(async () => {
      io.out(line`removed ${await removeConfig(env)}`);
      setExit(EXIT_OK);
    });
  program
    .command('whoami')
    .description('show the token in use and the policy key fingerprint agents pin')
    .action(
      withClient(context, async (client) => {
        const who = await client.get<Whoami>('/whoami');
        io.out(line`"${who.name}" (${who.role}, token id ${who.id}) at ${client.baseUrl}`);
        io.out(
          line`policy key fingerprint (for aigate-agent enroll --policy-key-fingerprint): ${who.policyKeyFingerprint}`,
        );
        return EXIT_OK;
      }),
    );
}
