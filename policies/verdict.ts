/** What the evaluator decides for one tool instance. */
import { type Static, Type } from '@sinclair/typebox';

import { Action } from './schema.js';

export const DecidedBy = Type.Object(
  {
    kind: Type.Union([
      Type.Literal('exception'),
      Type.Literal('rule'),
      Type.Literal('default'),
      Type.Literal('unknown-tools'),
    ]),
    /** Position in spec.rules or spec.exceptions; null for default and unknown-tools. */
    index: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    /** The rule's or exception's name, or `rules[N]` / `exceptions[N]` / `default` / `unknownTools`. */
    name: Type.String(),
  },
  { additionalProperties: false },
);
export type DecidedBy = Static<typeof DecidedBy>;

export const Verdict = Type.Object(
  {
    toolId: Type.String({ maxLength: 300 }),
    installPath: Type.String({ maxLength: 4096 }),
    version: Type.Union([Type.String({ maxLength: 100 }), Type.Null()]),
    /** What the policy decides. In monitor mode the agent only reports it ("would block"). */
    action: Action,
    /** False in monitor mode: nothing on the endpoint may change. */
    enforce: Type.Boolean(),
    /** `warn-window`: a dated rule is counting down to `effectiveAt`; otherwise `in-effect`. */
    phase: Type.Union([Type.Literal('warn-window'), Type.Literal('in-effect')]),
    decidedBy: DecidedBy,
    /** For a dated rule: the instant its action takes (or took) effect. */
    effectiveAt: Type.Union([Type.String(), Type.Null()]),
    /** In the warn window: the action that will apply at effectiveAt. */
    upcomingAction: Type.Union([Action, Type.Null()]),
    /** When the deciding rule or exception stops applying, if it has an `until`. */
    until: Type.Union([Type.String(), Type.Null()]),
    message: Type.String({ maxLength: 4000 }),
    contact: Type.Union([Type.String({ maxLength: 500 }), Type.Null()]),
    alternatives: Type.Array(Type.String({ maxLength: 300 }), { maxItems: 50 }),
    /** The earliest instant at which this verdict will change, if any. */
    nextChangeAt: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type Verdict = Static<typeof Verdict>;
