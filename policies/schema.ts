/**
 * The aigate policy document, v1. This TypeBox schema is the single source of truth: the
 * TypeScript types below are derived from it, the loader validates against it, and the server's
 * routes reuse it. Semantic checks that JSON Schema cannot express well (dates, durations,
 * timezones, semver ranges, catalog ids) live in `load.ts` so their messages can be precise.
 */
import { type Static, Type } from '@sinclair/typebox';

const ACTIONS = ['allow', 'warn', 'block'] as const;
export const Action = Type.Union(
  ACTIONS.map((a) => Type.Literal(a)),
  {
    description: 'allow | warn | block',
  },
);
export type Action = Static<typeof Action>;

const UnknownToolsAction = Type.Union([Type.Literal('report'), Type.Literal('warn'), Type.Literal('block')], {
  description: 'report | warn | block',
});

export const OS_NAMES = ['linux', 'darwin', 'windows'] as const;
export const OsName = Type.Union(
  OS_NAMES.map((o) => Type.Literal(o)),
  {
    description: 'linux | darwin | windows',
  },
);
export type OsName = Static<typeof OsName>;

/** A catalog id, `vendor:<slug>`, `category:<cli|ide-extension|desktop-app|ide>`, or `*`. */
const Selector = Type.String({
  minLength: 1,
  description: 'a catalog tool id, vendor:<slug>, category:<name> or *',
});

/**
 * A bare date (`2026-07-10`, midnight in the policy timezone), a local date-time
 * (`2026-07-10T09:00`, in the policy timezone) or an RFC 3339 instant (`2026-07-10T00:00:00Z`).
 */
const DateOrInstant = Type.String({
  minLength: 1,
  description: 'YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (policy timezone) or an RFC 3339 instant',
});

/** `14d`, `2w`, `36h`, `90m`, or combinations such as `1d12h`. */
const Duration = Type.String({ minLength: 1, description: 'a duration such as 14d, 2w, 36h, 1d12h' });

/**
 * A message for employees: one text (in the policy's language, `spec.notice.locale`), or one per
 * BCP 47 language tag, e.g. `{ en: "...", zh-CN: "..." }`. Each employee reads the one for their
 * language (see notice-locale.ts). Tags and lengths are checked in load.ts, which names the key.
 */
export const LocalizedMessage = Type.Union(
  [
    Type.String({ minLength: 1, maxLength: 2000 }),
    Type.Record(Type.String(), Type.String(), {
      description: 'one text per language tag, e.g. { en: "...", zh-CN: "..." }',
    }),
  ],
  { description: 'a text, or one text per language tag such as { en: "...", zh-CN: "..." }' },
);
export type LocalizedMessage = Static<typeof LocalizedMessage>;

const NameList = (description: string) => Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description });

/** Who a rule or exception applies to. Every scope given must match; absent means everyone. */
const scopeFields = {
  groups: Type.Optional(NameList('device groups (from enrollment) this applies to')),
  devices: Type.Optional(NameList('device ids or hostnames this applies to')),
  users: Type.Optional(NameList('user names owning the tool instance')),
  os: Type.Optional(Type.Array(OsName, { minItems: 1, description: 'operating systems' })),
};

export const Rule = Type.Object(
  {
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 120, description: 'shown in verdicts instead of rules[N]' }),
    ),
    tools: Type.Array(Selector, { minItems: 1 }),
    versions: Type.Optional(Type.String({ minLength: 1, description: 'npm semver range, e.g. ">=2.1.91"' })),
    action: Action,
    effective: Type.Optional(DateOrInstant),
    warnFor: Type.Optional(Duration),
    until: Type.Optional(DateOrInstant),
    message: Type.Optional(LocalizedMessage),
    alternatives: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'approved tools to use instead (catalog ids or free text)',
      }),
    ),
    ...scopeFields,
  },
  { additionalProperties: false },
);
export type Rule = Static<typeof Rule>;

export const Exception = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    tools: Type.Array(Selector, { minItems: 1 }),
    versions: Type.Optional(Type.String({ minLength: 1 })),
    from: Type.Optional(DateOrInstant),
    until: Type.Optional(DateOrInstant),
    reason: Type.String({ minLength: 1, maxLength: 2000 }),
    ...scopeFields,
  },
  { additionalProperties: false },
);
export type Exception = Static<typeof Exception>;

const Notice = Type.Object(
  {
    /**
     * The language notices use for employees whose own language aigate has no texts for (and for
     * plain-string messages): a BCP 47 tag such as `en` (the default) or `zh-CN`.
     */
    locale: Type.Optional(
      Type.String({ minLength: 1, maxLength: 35, description: 'a BCP 47 language tag such as en or zh-CN' }),
    ),
    contact: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    message: Type.Optional(LocalizedMessage),
    alternatives: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  { additionalProperties: false },
);
export type Notice = Static<typeof Notice>;

const PolicySpec = Type.Object(
  {
    mode: Type.Optional(
      Type.Union([Type.Literal('enforce'), Type.Literal('monitor')], { description: 'enforce | monitor' }),
    ),
    timezone: Type.Optional(Type.String({ minLength: 1, description: 'IANA timezone, e.g. Asia/Shanghai' })),
    default: Type.Optional(Action),
    unknownTools: Type.Optional(UnknownToolsAction),
    notice: Type.Optional(Notice),
    rules: Type.Optional(Type.Array(Rule)),
    exceptions: Type.Optional(Type.Array(Exception)),
  },
  { additionalProperties: false },
);

export const PolicyDocument = Type.Object(
  {
    apiVersion: Type.Literal('aigate/v1'),
    kind: Type.Literal('Policy'),
    metadata: Type.Object(
      {
        name: Type.String({
          minLength: 1,
          maxLength: 120,
          pattern: '^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$',
          description: 'lower-case name: letters, digits, . _ -',
        }),
        description: Type.Optional(Type.String({ maxLength: 2000 })),
      },
      { additionalProperties: false },
    ),
    spec: PolicySpec,
  },
  { additionalProperties: false },
);
/** A policy exactly as written by an admin (optional fields may be absent). */
export type PolicyDocument = Static<typeof PolicyDocument>;
