/**
 * The kinds of event an agent reports (POST /v1/events): part of the wire protocol, so agent and
 * server share this one list.
 */
export const EVENT_TYPES = [
  'warned-launch',
  'blocked-launch',
  'quarantined',
  'restored',
  'tamper',
  'policy-applied',
  'policy-refused',
  // Enforcement details: warn stubs placed, processes of a blocked tool stopped, a step that
  // could not be done (and was undone), and events the agent's full spool had to drop.
  'warning-installed',
  'processes-stopped',
  'enforcement-failed',
  'events-dropped',
  // Something a local user arranged that looked like an attack on the agent (a symlinked
  // folder, a FIFO launcher, a swapped file) and was left alone.
  'suspicious-layout',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
