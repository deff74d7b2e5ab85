// Which CellRanger summary metrics are shown, how, and when a value is flagged.
import type { SampleQc } from './api.js';

export interface MetricSpec {
  name: string;
  kind: 'count' | 'fraction';
  /** Flag below this value (fractions as 0..1). Levels follow 10x's web-summary alerts for Gene Expression. */
  warnBelow?: number;
}

export const METRICS: MetricSpec[] = [
  { name: 'Estimated Number of Cells', kind: 'count', warnBelow: 100 },
  { name: 'Mean Reads per Cell', kind: 'count' },
  { name: 'Median Genes per Cell', kind: 'count' },
  { name: 'Median UMI Counts per Cell', kind: 'count' },
  { name: 'Number of Reads', kind: 'count' },
  { name: 'Valid Barcodes', kind: 'fraction', warnBelow: 0.75 },
  { name: 'Sequencing Saturation', kind: 'fraction' },
  { name: 'Q30 Bases in Barcode', kind: 'fraction', warnBelow: 0.55 },
  { name: 'Q30 Bases in RNA Read', kind: 'fraction', warnBelow: 0.65 },
  { name: 'Reads Mapped to Genome', kind: 'fraction' },
  { name: 'Reads Mapped Confidently to Genome', kind: 'fraction' },
  { name: 'Reads Mapped Confidently to Transcriptome', kind: 'fraction', warnBelow: 0.3 },
  { name: 'Fraction Reads in Cells', kind: 'fraction', warnBelow: 0.7 },
  { name: 'Total Genes Detected', kind: 'count' },
];

/** The API types metric values as unknown (any CellRanger name may appear); the screens show numbers only. */
export function metric(s: SampleQc, name: string): number | undefined {
  const v = s.metrics[name];
  return typeof v === 'number' ? v : undefined;
}

export interface QcThresholds {
  min_genes?: number;
  max_genes?: number;
  min_counts?: number;
  max_counts?: number;
  max_pct_mt?: number;
}

/** The QC step's thresholds (manifest `qc_thresholds`), numeric ones only. */
export function thresholds(s: SampleQc | undefined): QcThresholds {
  const t = s?.qcThresholds ?? {};
  return Object.fromEntries(Object.entries(t).filter(([, v]) => typeof v === 'number')) as QcThresholds;
}

export interface Flag {
  metric: string;
  message: string;
}

/** Flags from the fixed levels above plus the run's own QC thresholds (what the filtering step used). */
export function flags(s: SampleQc): Flag[] {
  const out: Flag[] = [];
  for (const m of METRICS) {
    const v = metric(s, m.name);
    if (v === undefined || m.warnBelow === undefined) continue;
    if (v < m.warnBelow) out.push({ metric: m.name, message: `below ${m.kind === 'fraction' ? `${m.warnBelow * 100}%` : m.warnBelow}` });
  }
  const t = thresholds(s);
  const genes = metric(s, 'Median Genes per Cell');
  if (genes !== undefined && t.min_genes !== undefined && genes < t.min_genes)
    out.push({ metric: 'Median Genes per Cell', message: `below min_genes (${t.min_genes})` });
  const umis = metric(s, 'Median UMI Counts per Cell');
  if (umis !== undefined && t.min_counts !== undefined && umis < t.min_counts)
    out.push({ metric: 'Median UMI Counts per Cell', message: `below min_counts (${t.min_counts})` });
  const before = s.cellsBeforeQc;
  const after = s.cellsAfterQc;
  if (before && after != null && after / before < 0.5)
    out.push({ metric: 'cells_after_qc', message: `QC removed ${Math.round(100 * (1 - after / before))}% of cells` });
  return out;
}
