/** Every report, in the order listings show them. */
import type { ReportDefinition } from '../definition.js';
import { attestationReport } from './attestation.js';
import { auditReport } from './audit.js';
import { complianceReport } from './compliance.js';
import { coverageReport } from './coverage.js';
import { eventsReport } from './events.js';
import { inventoryReport } from './inventory.js';
import { policiesReport } from './policies.js';
import { usageReport } from './usage.js';
import { violationsReport } from './violations.js';

export const REPORTS: readonly ReportDefinition[] = [
  inventoryReport,
  violationsReport,
  eventsReport,
  coverageReport,
  complianceReport,
  usageReport,
  policiesReport,
  auditReport,
  attestationReport,
];

export const REPORT_KINDS = REPORTS.map((report) => report.kind);

export function reportByKind(kind: string): ReportDefinition | undefined {
  return REPORTS.find((report) => report.kind === kind);
}
