// Colour scales: a 20-colour categorical palette (Tableau-like, distinct on white) and viridis for values.
export const CATEGORICAL = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#aec7e8',
  '#ffbb78',
  '#98df8a',
  '#ff9896',
  '#c5b0d5',
  '#c49c94',
  '#f7b6d2',
  '#c7c7c7',
  '#dbdb8d',
  '#9edae5',
];

export function categoricalColours(n: number): string[] {
  return Array.from({ length: n }, (_, i) => CATEGORICAL[i % CATEGORICAL.length]!);
}

// Viridis anchor points, linearly interpolated to `n` steps.
const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

function hex(c: string): [number, number, number] {
  return [Number.parseInt(c.slice(1, 3), 16), Number.parseInt(c.slice(3, 5), 16), Number.parseInt(c.slice(5, 7), 16)];
}

export function viridis(n = 64): string[] {
  return Array.from({ length: n }, (_, i) => {
    const t = (i / (n - 1)) * (VIRIDIS.length - 1);
    const k = Math.min(VIRIDIS.length - 2, Math.floor(t));
    const a = hex(VIRIDIS[k]!);
    const b = hex(VIRIDIS[k + 1]!);
    const f = t - k;
    return `#${a
      .map((v, j) =>
        Math.round(v + (b[j]! - v) * f)
          .toString(16)
          .padStart(2, '0'),
      )
      .join('')}`;
  });
}
