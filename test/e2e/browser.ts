// Debian's Chromium driven by playwright-core (no downloaded browser), with a fresh profile per launch.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.SCRNA_CHROMIUM ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1440, height: 900 }): Promise<Browser> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'scrna-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // WebGL without a GPU: Chromium only falls back to its software renderer when asked to.
      '--enable-unsafe-swiftshader',
      '--use-angle=swiftshader',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Share of pixels in a PNG that differ from the background colour, decoded by the browser itself
 * (no PNG library needed): a rendered scatter has many, a blank canvas none.
 */
export async function nonBackgroundShare(page: Page, png: Buffer, background = [255, 255, 255]): Promise<number> {
  return page.evaluate(
    async ({ b64, bg }) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (Math.abs(d[i]! - bg[0]!) + Math.abs(d[i + 1]! - bg[1]!) + Math.abs(d[i + 2]! - bg[2]!) > 30) n++;
      }
      return n / (d.length / 4);
    },
    { b64: png.toString('base64'), bg: background },
  );
}

/** Distinct colours (quantised) among non-background pixels: recolouring by another column changes this. */
export async function colourSignature(page: Page, png: Buffer): Promise<Record<string, number>> {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const out: Record<string, number> = {};
    for (let i = 0; i < d.length; i += 4) {
      if (d[i]! > 245 && d[i + 1]! > 245 && d[i + 2]! > 245) continue;
      const k = `${d[i]! >> 5},${d[i + 1]! >> 5},${d[i + 2]! >> 5}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }, png.toString('base64'));
}

/**
 * The RGB drawn at each (x, y) CSS pixel of a canvas (2D or WebGL with a preserved drawing buffer), read from the
 * canvas itself: white where nothing is drawn.
 */
export async function canvasPixelsAt(page: Page, testId: string, points: [number, number][]): Promise<[number, number, number][]> {
  return page.getByTestId(testId).evaluate((el, pts) => {
    const src = el as HTMLCanvasElement;
    const r = src.getBoundingClientRect();
    const copy = document.createElement('canvas');
    copy.width = Math.round(r.width);
    copy.height = Math.round(r.height);
    const ctx = copy.getContext('2d')!;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, copy.width, copy.height);
    ctx.drawImage(src, 0, 0, copy.width, copy.height);
    const d = ctx.getImageData(0, 0, copy.width, copy.height).data;
    return pts.map(([x, y]) => {
      const i = 4 * (Math.min(copy.height - 1, Math.max(0, y)) * copy.width + Math.min(copy.width - 1, Math.max(0, x)));
      return [d[i]!, d[i + 1]!, d[i + 2]!] as [number, number, number];
    });
  }, points);
}
