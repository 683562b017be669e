/**
 * The tests' policy documents, built instead of copied: `policyYaml(name, spec)` writes the YAML
 * an admin would publish (`apiVersion: aigate/v1`, `kind: Policy`), typed by the policy schema
 * (policies/schema.ts), so a test says only what its policy is about. Shorthands cover the
 * policies most tests need: allow everything, and one block rule with an optional warning period.
 */
import { stringify } from 'yaml';

import type { PolicyDocument, Rule } from '../../policies/schema.js';

type Spec = PolicyDocument['spec'];

/** The YAML text of a policy named `name` with `spec` (default: allow everything). */
export function policyYaml(name: string, spec: Spec = { default: 'allow' }): string {
  const document: PolicyDocument = { apiVersion: 'aigate/v1', kind: 'Policy', metadata: { name }, spec };
  return stringify(document, { lineWidth: 0 });
}

/** A policy that allows every tool. */
export const allowAllYaml = (name = 'allow-all') => policyYaml(name);

/** A rule blocking `tools` (every user, from now unless `effective` says otherwise). */
export function blockRule(tools: string[], fields: Omit<Rule, 'tools' | 'action'> = {}): Rule {
  return { ...fields, tools, action: 'block' };
}

/** A policy that allows by default and blocks `tools` as `rule` says. */
export function banYaml(
  name: string,
  tools: string[],
  rule: Omit<Rule, 'tools' | 'action'> = {},
  spec: Spec = {},
): string {
  return policyYaml(name, { default: 'allow', ...spec, rules: [blockRule(tools, rule)] });
}
