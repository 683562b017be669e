/**
 * Numbered schema migrations, applied in order on start inside one transaction each. A migration
 * is never edited once released: later changes are new entries. `PRAGMA user_version` records
 * the last one applied, so a database written by a newer server is refused instead of misread.
 *
 * Times are integers (milliseconds since the epoch, UTC). Index choices serve the reports issue:
 * inventory by tool, group, user and verdict; history and events by time.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE admin_tokens (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('admin', 'auditor')),
  token_hash   TEXT NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  created_by   TEXT,
  last_used_at INTEGER,
  revoked_at   INTEGER
) STRICT;

CREATE TABLE enroll_secrets (
  id          TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL UNIQUE,
  group_name  TEXT NOT NULL,
  note        TEXT,
  expires_at  INTEGER,
  max_uses    INTEGER,
  uses        INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  created_by  TEXT,
  revoked_at  INTEGER
) STRICT;

CREATE TABLE devices (
  id                TEXT PRIMARY KEY,
  key_thumbprint    TEXT NOT NULL UNIQUE,
  public_jwk        TEXT NOT NULL,
  hostname          TEXT NOT NULL,
  os                TEXT NOT NULL,
  os_version        TEXT,
  arch              TEXT,
  users             TEXT NOT NULL DEFAULT '[]',
  agent_version     TEXT NOT NULL,
  group_name        TEXT NOT NULL,
  enroll_secret_id  TEXT REFERENCES enroll_secrets(id),
  enrolled_at       INTEGER NOT NULL,
  last_seen_at      INTEGER,
  last_checkin_at   INTEGER,
  policy_revision   INTEGER,
  revoked_at        INTEGER
) STRICT;
CREATE INDEX devices_by_group ON devices (group_name);
CREATE INDEX devices_by_hostname ON devices (hostname);

CREATE TABLE policies (
  revision            INTEGER PRIMARY KEY,
  name                TEXT NOT NULL,
  source              TEXT NOT NULL,
  source_format       TEXT NOT NULL CHECK (source_format IN ('yaml', 'json')),
  document            TEXT NOT NULL,
  sha256              TEXT NOT NULL,
  bundle              TEXT NOT NULL,
  etag                TEXT NOT NULL,
  published_at        INTEGER NOT NULL,
  published_by        TEXT,
  comment             TEXT,
  rollback_of         INTEGER REFERENCES policies(revision),
  exception_request   TEXT
) STRICT;

-- Current state: one row per tool instance ever seen on a device. A check-in that changes
-- nothing writes no instance rows (only the device's last_checkin_at), so "last seen" of a
-- present instance is its device's last check-in; seen_until keeps it for absent ones. Read
-- through the inventory view below, which resolves last_seen_at.
CREATE TABLE instances (
  device_id        TEXT NOT NULL REFERENCES devices(id),
  instance_key     TEXT NOT NULL,
  group_name       TEXT NOT NULL,
  tool_id          TEXT NOT NULL,
  name             TEXT,
  version          TEXT,
  channel          TEXT NOT NULL,
  install_path     TEXT NOT NULL,
  owner            TEXT,
  host             TEXT,
  running          INTEGER,
  detail           TEXT NOT NULL,
  action           TEXT CHECK (action IN ('allow', 'warn', 'block')),
  phase            TEXT,
  enforce          INTEGER,
  decided_by       TEXT,
  effective_at     TEXT,
  verdict          TEXT,
  digest           TEXT NOT NULL,
  present          INTEGER NOT NULL DEFAULT 1,
  first_seen_at    INTEGER NOT NULL,
  changed_at       INTEGER NOT NULL,
  seen_until       INTEGER,
  disappeared_at   INTEGER,
  violation_since  INTEGER,
  policy_revision  INTEGER,
  PRIMARY KEY (device_id, instance_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX instances_by_tool ON instances (tool_id, present, action);
CREATE INDEX instances_by_group ON instances (group_name, tool_id);
CREATE INDEX instances_by_owner ON instances (owner, tool_id);
CREATE INDEX instances_by_action ON instances (action, present, violation_since);

CREATE VIEW inventory AS
SELECT i.device_id, i.instance_key, i.group_name, i.tool_id, i.name, i.version, i.channel, i.install_path, i.owner, i.host,
       i.running, i.detail, i.action, i.phase, i.enforce, i.decided_by, i.effective_at, i.verdict, i.present,
       i.first_seen_at, coalesce(i.seen_until, d.last_checkin_at, i.changed_at) AS last_seen_at, i.changed_at,
       i.disappeared_at, i.violation_since, i.policy_revision,
       d.hostname, d.os, d.revoked_at AS device_revoked_at
  FROM instances i JOIN devices d ON d.id = i.device_id;

-- Changes to instances over time.
CREATE TABLE instance_history (
  id               INTEGER PRIMARY KEY,
  at               INTEGER NOT NULL,
  device_id        TEXT NOT NULL,
  instance_key     TEXT NOT NULL,
  tool_id          TEXT NOT NULL,
  change           TEXT NOT NULL CHECK (change IN ('appeared', 'version-changed', 'disappeared', 'verdict-changed')),
  old_version      TEXT,
  new_version      TEXT,
  old_action       TEXT,
  new_action       TEXT,
  policy_revision  INTEGER
) STRICT;
CREATE INDEX instance_history_by_time ON instance_history (at);
CREATE INDEX instance_history_by_device ON instance_history (device_id, at);
CREATE INDEX instance_history_by_tool ON instance_history (tool_id, at);

CREATE TABLE events (
  device_id        TEXT NOT NULL REFERENCES devices(id),
  id               TEXT NOT NULL,
  type             TEXT NOT NULL,
  at               INTEGER NOT NULL,
  received_at      INTEGER NOT NULL,
  tool_id          TEXT,
  install_path     TEXT,
  version          TEXT,
  user_name        TEXT,
  policy_revision  INTEGER,
  message          TEXT,
  details          TEXT,
  PRIMARY KEY (device_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX events_by_time ON events (at);
CREATE INDEX events_by_type ON events (type, at);
CREATE INDEX events_by_received ON events (received_at);

CREATE TABLE exception_requests (
  id               TEXT PRIMARY KEY,
  device_id        TEXT NOT NULL REFERENCES devices(id),
  client_id        TEXT,
  tool_id          TEXT NOT NULL,
  install_path     TEXT,
  version          TEXT,
  user_name        TEXT,
  reason           TEXT NOT NULL,
  requested_until  TEXT,
  requested_at     INTEGER NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  decided_at       INTEGER,
  decided_by       TEXT,
  decision_reason  TEXT,
  policy_revision  INTEGER,
  UNIQUE (device_id, client_id)
) STRICT;
CREATE INDEX exception_requests_by_status ON exception_requests (status, requested_at);

-- Append-only, hash-chained log of admin actions. The triggers stop accidental or careless
-- edits through SQL; the chain makes edits through the raw file detectable.
CREATE TABLE audit_log (
  seq         INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  actor_id    TEXT,
  actor_name  TEXT NOT NULL,
  actor_role  TEXT NOT NULL,
  action      TEXT NOT NULL,
  target      TEXT,
  details     TEXT NOT NULL,
  remote_ip   TEXT,
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`,
  },
  {
    version: 2,
    name: 'reports: daily rollups, running observations, dashboard sessions',
    sql: `
-- Per-day figures built by the rollup job (server/jobs). Days are UTC dates (YYYY-MM-DD);
-- groups are the device's group when the day was computed. Each table is rewritten per day,
-- so recomputing a day is idempotent.
CREATE TABLE rollup_inventory_day (
  day             TEXT NOT NULL,
  group_name      TEXT NOT NULL,
  tool_id         TEXT NOT NULL,
  installs        INTEGER NOT NULL,
  devices         INTEGER NOT NULL,
  warn_instances  INTEGER NOT NULL,
  block_instances INTEGER NOT NULL,
  PRIMARY KEY (day, group_name, tool_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE rollup_compliance_day (
  day         TEXT NOT NULL,
  group_name  TEXT NOT NULL,
  devices     INTEGER NOT NULL,
  compliant   INTEGER NOT NULL,
  with_warn   INTEGER NOT NULL,
  with_block  INTEGER NOT NULL,
  PRIMARY KEY (day, group_name)
) STRICT, WITHOUT ROWID;

CREATE TABLE rollup_event_day (
  day         TEXT NOT NULL,
  group_name  TEXT NOT NULL,
  tool_id     TEXT NOT NULL,
  type        TEXT NOT NULL,
  events      INTEGER NOT NULL,
  devices     INTEGER NOT NULL,
  PRIMARY KEY (day, group_name, tool_id, type)
) STRICT, WITHOUT ROWID;

CREATE TABLE rollup_running_day (
  day         TEXT NOT NULL,
  group_name  TEXT NOT NULL,
  tool_id     TEXT NOT NULL,
  devices     INTEGER NOT NULL,
  PRIMARY KEY (day, group_name, tool_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE rollup_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- Running state is not part of the instance history; check-ins that report a running
-- instance are noted here: when each instance was last reported running, and which devices
-- ran which tool on which day (raw, folded into rollup_running_day and pruned).
CREATE TABLE instance_running (
  device_id        TEXT NOT NULL,
  instance_key     TEXT NOT NULL,
  last_running_at  INTEGER NOT NULL,
  PRIMARY KEY (device_id, instance_key)
) STRICT, WITHOUT ROWID;

CREATE TABLE running_day (
  day        TEXT NOT NULL,
  tool_id    TEXT NOT NULL,
  device_id  TEXT NOT NULL,
  PRIMARY KEY (day, tool_id, device_id)
) STRICT, WITHOUT ROWID;

-- The rollup's pass over the history reads each instance's changes in order, from the index alone.
CREATE INDEX instance_history_by_instance ON instance_history (device_id, instance_key, at, id, change, new_action);
-- What the agent did about one instance (violations report).
CREATE INDEX events_by_device_tool ON events (device_id, tool_id, type, at);

-- Dashboard sessions: the cookie holds a random id; only its SHA-256 is stored, mapped to the
-- admin or auditor token that signed in (revoking the token ends its sessions).
CREATE TABLE ui_sessions (
  id_hash       TEXT PRIMARY KEY,
  token_id      TEXT NOT NULL REFERENCES admin_tokens(id),
  csrf_token    TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  last_seen_at  INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  remote_ip     TEXT
) STRICT;
CREATE INDEX ui_sessions_by_token ON ui_sessions (token_id);
`,
  },
  {
    version: 3,
    name: 'reports: covering index for the inventory report',
    sql: `
-- The inventory report reads every instance in key order. Instance rows carry the agent's full
-- verdict and evidence (most of their bytes); this index holds just the report's columns, so
-- the report scans about a sixth of the data.
CREATE INDEX instances_report ON instances (device_id, instance_key, group_name, owner, name, version, channel, host, first_seen_at,
  seen_until, changed_at, present, disappeared_at, running, action, enforce, phase, decided_by, effective_at, violation_since, policy_revision);
`,
  },
  {
    version: 4,
    name: "devices: the agent's own health (ok | degraded with reasons)",
    sql: `
-- NULL until the agent reports its health (agents before the health report never do).
ALTER TABLE devices ADD COLUMN health TEXT CHECK (health IN ('ok', 'degraded'));
-- JSON array of { code, message, since? } as the agent sent them; '[]' when ok.
ALTER TABLE devices ADD COLUMN health_reasons TEXT NOT NULL DEFAULT '[]';
-- The check-in that first said degraded (kept while it stays degraded); NULL when ok.
ALTER TABLE devices ADD COLUMN degraded_since INTEGER;
CREATE INDEX devices_by_health ON devices (health) WHERE health = 'degraded';
`,
  },
  {
    version: 5,
    name: 'exception requests follow the policy in force: revoked state, approved end',
    sql: `
-- A request's state follows the policy in force: an approved request whose exception a later
-- revision removes (a rollback, an edit) becomes 'revoked', and 'approved' again if a later
-- revision brings the exception back. SQLite cannot change a CHECK, so the table is rebuilt.
CREATE TABLE exception_requests_v5 (
  id                   TEXT PRIMARY KEY,
  device_id            TEXT NOT NULL REFERENCES devices(id),
  client_id            TEXT,
  tool_id              TEXT NOT NULL,
  install_path         TEXT,
  version              TEXT,
  user_name            TEXT,
  reason               TEXT NOT NULL,
  requested_until      TEXT,
  requested_at         INTEGER NOT NULL,
  status               TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'revoked')),
  decided_at           INTEGER,
  decided_by           TEXT,
  decision_reason      TEXT,
  policy_revision      INTEGER,
  -- The end the approval gave (the exception's until), NULL for none.
  approved_until       TEXT,
  -- When and by which revision the exception was removed (status 'revoked').
  revoked_at           INTEGER,
  revoked_in_revision  INTEGER,
  UNIQUE (device_id, client_id)
) STRICT;
INSERT INTO exception_requests_v5 (id, device_id, client_id, tool_id, install_path, version, user_name, reason, requested_until,
                                   requested_at, status, decided_at, decided_by, decision_reason, policy_revision)
  SELECT id, device_id, client_id, tool_id, install_path, version, user_name, reason, requested_until,
         requested_at, status, decided_at, decided_by, decision_reason, policy_revision
    FROM exception_requests;
DROP TABLE exception_requests;
ALTER TABLE exception_requests_v5 RENAME TO exception_requests;
CREATE INDEX exception_requests_by_status ON exception_requests (status, requested_at);
CREATE INDEX exception_requests_by_client ON exception_requests (client_id);
-- The end each approval gave, from the revision that approved it.
UPDATE exception_requests
   SET approved_until = (SELECT json_extract(e.value, '$.until')
                           FROM policies p, json_each(p.document, '$.spec.exceptions') e
                          WHERE p.revision = exception_requests.policy_revision
                            AND json_extract(e.value, '$.name') = 'exception-request-' || exception_requests.id)
 WHERE status = 'approved';
-- Approvals an earlier rollback already removed from the policy in force.
UPDATE exception_requests
   SET status = 'revoked',
       revoked_in_revision = (SELECT max(revision) FROM policies),
       revoked_at = (SELECT published_at FROM policies ORDER BY revision DESC LIMIT 1)
 WHERE status = 'approved'
   AND NOT EXISTS (SELECT 1
                     FROM policies p, json_each(p.document, '$.spec.exceptions') e
                    WHERE p.revision = (SELECT max(revision) FROM policies)
                      AND json_extract(e.value, '$.name') = 'exception-request-' || exception_requests.id);
`,
  },
  {
    version: 6,
    name: 'fingerprints reported by devices',
    sql: `
-- One row per file fingerprint any device reported. Its claim (tool, kind, size) is the first
-- report's; status is the admin's word: pending until approved or revoked.
CREATE TABLE fingerprints (
  sha256            TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  tool_id           TEXT NOT NULL,
  kind              TEXT NOT NULL CHECK (kind IN ('entry', 'native')),
  size              INTEGER NOT NULL CHECK (size > 0),
  version           TEXT,
  status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'revoked')),
  first_reported_at INTEGER NOT NULL,
  decided_at        INTEGER,
  decided_by        TEXT,
  -- The first policy revision whose bundle carried it (null: not shipped yet).
  shipped_revision  INTEGER
) STRICT;

-- Which devices reported a fingerprint, with what they claimed and when.
CREATE TABLE fingerprint_reports (
  sha256      TEXT NOT NULL REFERENCES fingerprints (sha256),
  device_id   TEXT NOT NULL REFERENCES devices (id),
  tool_id     TEXT NOT NULL,
  kind        TEXT NOT NULL,
  size        INTEGER NOT NULL,
  version     TEXT,
  first_at    INTEGER NOT NULL,
  last_at     INTEGER NOT NULL,
  PRIMARY KEY (sha256, device_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX fingerprint_reports_by_device ON fingerprint_reports (device_id);
`,
  },
];

export class MigrationError extends Error {}

/** Apply every migration newer than the database, in order. Returns the versions applied. */
export function runMigrations(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new MigrationError(
        `migrations must be numbered 1, 2, 3, ... without gaps; found ${migration.version} at position ${index + 1}`,
      );
    }
  });
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = sorted.length;
  if (current > latest) {
    throw new MigrationError(
      `the database is at schema version ${current}, but this server only knows up to ${latest}; it was written by a newer aigate-server`,
    );
  }
  const applied: number[] = [];
  for (const migration of sorted) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
    applied.push(migration.version);
  }
  return applied;
}
