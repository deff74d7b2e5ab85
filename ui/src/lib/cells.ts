import type { Integration } from '$lib/api';

export type ColourChoice = { id: string; label: string };

// What the Cells view can colour by; the first colour is loaded with the embedding.
const QC_CHOICES: ColourChoice[] = [
  { id: 'sample', label: 'Sample' },
  { id: 'batch', label: 'Batch' },
  { id: 'n_genes', label: 'Genes per cell' },
  { id: 'total_counts', label: 'UMI counts' },
  { id: 'pct_counts_mt', label: '% mitochondrial' },
  { id: 'doublet_score', label: 'Doublet score' },
];

/** `leiden` (the default resolution) first, then the run's clusterings at each resolution it has, then QC columns. */
export function colourChoices(integration: Integration | null): ColourChoice[] {
  const def = integration?.leiden_resolution;
  const clusterings = (integration?.clusterings ?? []).map((c) => ({
    id: c.key,
    label: `Cluster (resolution ${c.resolution}, ${c.n_clusters} clusters)`,
  }));
  return [
    { id: 'leiden', label: def === undefined ? 'Cluster (leiden)' : `Cluster (leiden, default resolution ${def})` },
    ...clusterings,
    ...QC_CHOICES,
  ];
}

export const initialColour = (asked: string | null, choices: ColourChoice[]) => (choices.some((c) => c.id === asked) ? asked! : 'leiden');
