// A run's provenance, read from its stored results manifest: what made the results (Nextflow, the pipeline's git
// revision, each process's tool versions and container image, the params) and the steps the data could not support
// as asked. Manifest 1.1 carries all of it; a 1.0 manifest (written before provenance existed) gives what it has.

export interface SkippedStep {
  /** null for a run-level step (integration), else the sample it was skipped for */
  sample: string | null;
  step: string;
  action: 'skipped' | 'clamped' | 'fallback';
  reason: string;
}

export interface Provenance {
  schemaVersion: string;
  nextflowVersion: string | null;
  pipeline: { name: string | null; version: string | null; commit: string | null; revision: string | null; dirty: boolean | null };
  containerEngine: string | null;
  /** process -> image */
  containers: Record<string, string>;
  /** process (and `Workflow`) -> tool -> version */
  software: Record<string, Record<string, string>>;
  params: Record<string, unknown>;
  skipped: SkippedStep[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** String-valued entries only: the manifest schema says so, and the API never trusts a file's shape beyond it. */
function strings(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(obj(v)).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function skippedOf(list: unknown, sample: string | null): SkippedStep[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((s) => {
    const o = obj(s);
    const action = o.action;
    if (typeof o.step !== 'string' || typeof o.reason !== 'string') return [];
    if (action !== 'skipped' && action !== 'clamped' && action !== 'fallback') return [];
    return [{ sample, step: o.step, action, reason: o.reason }];
  });
}

/** A 1.0 sample entry records only why doublets were not called (or called at a fallback threshold). */
function legacyDoublets(sample: Obj): SkippedStep[] {
  const d = obj(sample.doublets);
  const reason = str(d.reason);
  if (!reason || reason === 'doublet_method none') return [];
  return [{ sample: str(sample.sample), step: 'doublets', action: d.method === 'none' ? 'skipped' : 'fallback', reason }];
}

export function provenanceOf(manifest: Obj): Provenance {
  const p = obj(manifest.provenance);
  const workflow = obj(manifest.workflow);
  const pipeline = obj(p.pipeline);
  const samples = Array.isArray(manifest.samples) ? manifest.samples.map(obj) : [];
  const has = 'provenance' in manifest;
  return {
    schemaVersion: str(manifest.schema_version) ?? 'unknown',
    nextflowVersion: str(obj(p.nextflow).version) ?? str(workflow.nextflow_version),
    pipeline: {
      name: str(pipeline.name) ?? str(workflow.name),
      version: str(pipeline.version) ?? str(workflow.version),
      commit: str(pipeline.commit),
      revision: str(pipeline.revision),
      dirty: typeof pipeline.dirty === 'boolean' ? pipeline.dirty : null,
    },
    containerEngine: str(p.container_engine),
    containers: strings(p.containers),
    software: Object.fromEntries(Object.entries(obj(p.software)).map(([k, v]) => [k, strings(v)])),
    params: obj(manifest.params),
    skipped: [
      ...samples.flatMap((s) => (has ? skippedOf(s.skipped, str(s.sample)) : legacyDoublets(s))),
      ...skippedOf(obj(manifest.integration).skipped, null),
    ],
  };
}
