/** `aigate devices` and `aigate device show|revoke`. */
import type { Static } from '@sinclair/typebox';

import type { AdminClient } from '../../client/admin-client.js';
import type { DeviceView, InstanceView } from '../../routes/admin/devices.js';
import { EXIT_OK, line, type Output } from '../output.js';
import { shortTime, table } from '../table.js';
import { type CliContext, printJson, uuidArgument, withClient } from './common.js';

type Device = Static<typeof DeviceView>;

/** `ok`, `unknown`, or `degraded: ledger-damaged, spool-trouble` (the agent's own reasons). */
function health(device: Device): string {
  if (device.health !== 'degraded') return device.health;
  return `degraded: ${device.healthReasons.map((reason) => reason.code).join(', ') || 'no reason given'}`;
}

async function list(
  client: AdminClient,
  options: { group?: string; all?: boolean; json?: boolean },
  io: Output,
): Promise<number> {
  const devices: Device[] = [];
  let after: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '1000' });
    if (options.group) query.set('group', options.group);
    if (options.all) query.set('includeRevoked', 'true');
    if (after) query.set('after', after);
    const page: { devices: Device[]; next: string | null } = await client.get(`/devices?${query}`);
    devices.push(...page.devices);
    after = page.next;
  } while (after);
  if (options.json) printJson(io, devices);
  else if (devices.length === 0)
    io.out(options.group ? line`no devices enrolled in group ${options.group}` : 'no devices enrolled');
  else
    io.out(
      table(
        ['ID', 'HOSTNAME', 'GROUP', 'OS', 'AGENT', 'LAST CHECK-IN', 'POLICY', 'STATE', 'HEALTH'],
        devices.map((d) => [
          d.id,
          d.hostname,
          d.group,
          d.os,
          d.agentVersion,
          shortTime(d.lastCheckinAt),
          d.policyRevision,
          d.status,
          health(d),
        ]),
      ),
    );
  return EXIT_OK;
}

async function show(client: AdminClient, id: string, options: { json?: boolean }, io: Output): Promise<number> {
  const result = await client.get<{ device: Device; instances: Static<typeof InstanceView>[] }>(`/devices/${id}`);
  if (options.json) {
    printJson(io, result);
    return EXIT_OK;
  }
  const d = result.device;
  io.out(
    line`${d.hostname} (${d.id}), group ${d.group}, ${d.os}, agent ${d.agentVersion}, policy revision ${d.policyRevision}` +
      (d.revokedAt ? ', REVOKED' : ''),
  );
  io.out(line`last check-in ${shortTime(d.lastCheckinAt)}; users: ${d.users.join(', ') || '-'}`);
  if (d.health === 'degraded') {
    io.out(line`DEGRADED since ${shortTime(d.degradedSince)}: the agent says its enforcement cannot be trusted:`);
    for (const reason of d.healthReasons)
      io.out(
        line`  ${reason.code}: ${reason.message}` + (reason.since ? line` (since ${shortTime(reason.since)})` : ''),
      );
  } else io.out(`agent health: ${d.health}`);
  const present = result.instances.filter((i) => i.present);
  if (present.length === 0) {
    io.out('no AI tools reported');
    return EXIT_OK;
  }
  io.out('');
  io.out(
    table(
      ['TOOL', 'VERSION', 'VERDICT', 'VIOLATION SINCE', 'OWNER', 'PATH'],
      present.map((i) => [
        i.instance.toolId,
        i.instance.version,
        i.verdict?.action ?? '-',
        shortTime(i.violationSince),
        i.instance.owner,
        i.instance.installPath,
      ]),
    ),
  );
  return EXIT_OK;
}

async function revoke(client: AdminClient, id: string, io: Output): Promise<number> {
  const device = await client.post<Device>(`/devices/${id}/revoke`);
  io.out(line`revoked device ${device.id} (${device.hostname})`);
  return EXIT_OK;
}

export function registerDevices(context: CliContext): void {
  const { io, program } = context;
  const deviceId = uuidArgument('device id', 'aigate devices');
  program
    .command('devices')
    .description('list enrolled devices')
    .option('--group <group>', 'only this group')
    .option('--all', 'include revoked devices')
    .option('--json', 'machine-readable result')
    .action(
      withClient(context, (client, options: { group?: string; all?: boolean; json?: boolean }) =>
        list(client, options, io),
      ),
    );
  const device = program.command('device').description('one device');
  device
    .command('show')
    .argument('<id>', 'device id (a UUID; see aigate devices)', deviceId)
    .description('a device with its AI tools and verdicts')
    .option('--json', 'machine-readable result')
    .action(withClient(context, (client, id: string, options: { json?: boolean }) => show(client, id, options, io)));
  device
    .command('revoke')
    .argument('<id>', 'device id (a UUID; see aigate devices)', deviceId)
    .description('revoke a device (its requests are refused from now on)')
    .action(withClient(context, (client, id: string) => revoke(client, id, io)));
}
