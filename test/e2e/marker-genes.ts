// The Cells page of a finished test-profile run against the generator's truth: searching a cell type's marker gene
// lights up that type's cells (read from the screenshot's pixels at each cell's position), and the marker table lists,
// for each cluster, markers of the cell type it matches.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import type { Page } from 'playwright-core';
import type { Test } from 'tap';
import { viridis } from '../../ui/src/lib/palette.js';
import { normalise } from '../../ui/src/lib/scatter.js';
import { canvasPixelsAt } from './browser.js';

export async function markerGenesLightUp(t: Test, page: Page, base: string, runId: string, shots: string) {
  // The truth: each called cell's type (the generator's truth.csv) and each type's marker genes (its markers.csv).
  const outdir = String((await (await fetch(`${base}/api/v1/runs/${runId}`)).json()).outdir);
  const typeOf = new Map(
    (await readFile(path.join(outdir, 'testdata/truth.csv'), 'utf8'))
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
      .map(([sample, , barcode, , type]) => [`${sample}:${barcode}`, type ?? '']),
  );
  const markersOf = new Map<string, string[]>();
  for (const [type = '', , gene = ''] of (await readFile(path.join(outdir, 'testdata/markers.csv'), 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')))
    markersOf.set(type, [...(markersOf.get(type) ?? []), gene]);
  const cells = tableFromIPC(
    new Uint8Array(await (await fetch(`${base}/api/v1/runs/${runId}/cells?columns=umap_x,umap_y,sample,barcode,leiden`)).arrayBuffer()),
  );
  const col = (name: string) => cells.getChild(name)!.toArray() as ArrayLike<unknown>;
  const [sample, barcode, leiden] = [col('sample'), col('barcode'), col('leiden')].map((c) => Array.from(c, String)) as string[][];
  const types = sample!.map((s, i) => typeOf.get(`${s}:${barcode![i]}`) ?? '');
  t.notOk(types.includes(''), 'every cell is in the truth table');

  await page.goto(`${base}/runs/${runId}/cells`);
  const drawn = async () => Number(await page.getByTestId('scatter-host').getAttribute('data-drawn'));
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=scatter-host]')?.getAttribute('data-drawn') ?? 0) >= 1);
  // Screen position of every cell, as the view draws it at zoom 1 (lib/scatter.ts: normalise, then clip -> pixel).
  const box = (await page.getByTestId('scatter').boundingBox())!;
  const xy = normalise(Float32Array.from(col('umap_x') as ArrayLike<number>), Float32Array.from(col('umap_y') as ArrayLike<number>));
  const m = Math.min(box.width, box.height);
  const at = types.map((_, i): [number, number] => [
    Math.floor((((xy[2 * i]! * m) / box.width + 1) / 2) * box.width),
    Math.floor(((1 - (xy[2 * i + 1]! * m) / box.height) / 2) * box.height),
  ]);
  // A pixel's place on the viridis scale (0..255), points being drawn at 0.9 opacity over white.
  const scale = viridis(256).map((h) => [1, 3, 5].map((k) => 0.9 * Number.parseInt(h.slice(k, k + 2), 16) + 0.1 * 255));
  const place = ([r, g, b]: number[]) =>
    scale.reduce(
      (best, c, k) =>
        (c[0]! - r!) ** 2 + (c[1]! - g!) ** 2 + (c[2]! - b!) ** 2 < best.d
          ? { k, d: (c[0]! - r!) ** 2 + (c[1]! - g!) ** 2 + (c[2]! - b!) ** 2 }
          : best,
      {
        k: -1,
        d: Number.POSITIVE_INFINITY,
      },
    ).k;
  /** Shares of the type's cells and of the other cells drawn in the top quarter of the scale. */
  const lit = async (type: string, shot: string) => {
    await page.getByTestId('scatter').screenshot({ path: path.join(shots, shot) });
    const places = (await canvasPixelsAt(page, 'scatter', at)).map(place);
    const share = (mine: boolean) => {
      const idx = types.flatMap((ty, i) => ((ty === type) === mine ? [i] : []));
      return idx.filter((i) => places[i]! >= 192).length / idx.length;
    };
    return { mine: share(true), others: share(false) };
  };

  const gene = markersOf.get('T_cell')![0]!;
  const search = page.getByTestId('gene-search');
  await search.fill(gene.slice(0, -1));
  await page.waitForFunction(
    (g) => [...document.querySelectorAll('#gene-options option')].some((o) => (o as HTMLOptionElement).value === g),
    gene,
  );
  t.ok(Number(await page.getByTestId('gene-options').getAttribute('data-total')) >= 1, 'autocomplete offers the gene');
  const before = await drawn();
  await search.fill(gene);
  await search.press('Enter');
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid=scatter-host]')?.getAttribute('data-drawn') ?? 0) > n,
    before,
  );
  t.equal(await page.getByTestId('gradient-label').textContent(), gene, 'a continuous legend for the gene');
  const tc = await lit('T_cell', 'cells-gene.png');
  t.ok(
    tc.mine >= 0.85 && tc.others <= 0.15,
    `${gene}: ${(tc.mine * 100).toFixed(0)}% of T cells lit, ${(tc.others * 100).toFixed(0)}% of others`,
  );
  t.match(page.url(), new RegExp(`[?&]gene=${gene}`), 'the URL keeps the gene');

  // Clusters paired with cell types by the most shared cells (the ARI's contingency table; one-to-one here).
  const typeOfCluster = new Map<string, string>();
  for (const c of new Set(leiden)) {
    const n = new Map<string, number>();
    leiden!.forEach((l, i) => {
      if (l === c) n.set(types[i]!, (n.get(types[i]!) ?? 0) + 1);
    });
    typeOfCluster.set(c, [...n.entries()].sort((a, b) => b[1] - a[1])[0]![0]);
  }
  t.equal(new Set(typeOfCluster.values()).size, markersOf.size, 'each cell type has its own cluster');
  const rows = page.getByTestId('markers').locator('tr');
  t.equal(await rows.count(), typeOfCluster.size, 'one marker row per cluster');
  for (const [cluster, type] of typeOfCluster) {
    const shown = await page.locator(`[data-testid=markers] tr[data-cluster="${cluster}"] button`).allInnerTexts();
    t.ok(
      shown.length >= 3 && shown.every((g) => markersOf.get(type)?.includes(g.trim())),
      `cluster ${cluster} (${type}): ${shown.join(', ')}`,
    );
  }
  // A marker in the table colours by it: B cells light up.
  const bCluster = [...typeOfCluster].find(([, ty]) => ty === 'B_cell')![0];
  const b = page.locator(`[data-testid=markers] tr[data-cluster="${bCluster}"] button`).first();
  const bGene = ((await b.textContent()) ?? '').trim();
  const before2 = await drawn();
  await b.click();
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid=scatter-host]')?.getAttribute('data-drawn') ?? 0) > n,
    before2,
  );
  const bc = await lit('B_cell', 'cells-marker.png');
  t.ok(
    bc.mine >= 0.85 && bc.others <= 0.15,
    `${bGene}: ${(bc.mine * 100).toFixed(0)}% of B cells lit, ${(bc.others * 100).toFixed(0)}% of others`,
  );
  await page.screenshot({ path: path.join(shots, 'cells-markers.png') });
}
