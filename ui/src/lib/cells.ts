// What the Cells view can colour by; the first colour is loaded with the embedding.
export const COLOUR_CHOICES = [
  { id: 'leiden', label: 'Cluster (leiden)' },
  { id: 'sample', label: 'Sample' },
  { id: 'batch', label: 'Batch' },
  { id: 'n_genes', label: 'Genes per cell' },
  { id: 'total_counts', label: 'UMI counts' },
  { id: 'pct_counts_mt', label: '% mitochondrial' },
  { id: 'doublet_score', label: 'Doublet score' },
];

export const initialColour = (asked: string | null) => (COLOUR_CHOICES.some((c) => c.id === asked) ? asked! : 'leiden');
