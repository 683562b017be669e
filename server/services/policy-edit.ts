/**
 * Edits to a stored policy source made by the server itself (approving an exception request).
 * YAML is edited through the yaml Document API so the admin's comments and layout survive;
 * JSON is re-serialised.
 */
import { parseDocument } from 'yaml';

import type { Exception } from '../../policies/schema.js';
import type { SourceFormat } from './policy-service.js';

export function addException(source: string, format: SourceFormat, exception: Exception): string {
  if (format === 'json') {
    const document = JSON.parse(source) as { spec?: { exceptions?: Exception[] } };
    document.spec ??= {};
    document.spec.exceptions = [...(document.spec.exceptions ?? []), exception];
    return JSON.stringify(document, null, 2) + '\n';
  }
  const document = parseDocument(source);
  if (document.errors.length > 0)
    throw new Error(`the current policy source does not parse: ${document.errors[0]!.message}`);
  if (!document.hasIn(['spec', 'exceptions'])) document.setIn(['spec', 'exceptions'], document.createNode([]));
  document.addIn(['spec', 'exceptions'], document.createNode(exception));
  return document.toString();
}
