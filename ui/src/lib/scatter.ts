// Point renderers for embeddings. PointRenderer: a small WebGL2 renderer for embeddings with a million points. Positions are uploaded once; a recolour
// uploads one uint16 colour index per point and a palette texture, so it costs one buffer upload and one draw.
// Hidden categories get alpha 0 in the palette and are culled in the vertex shader. Software WebGL (no GPU)
// stays usable because the shaders do almost nothing.

const VS = `#version 300 es
in vec2 a_pos;
in float a_col;
in float a_sel;
uniform vec2 u_scale;
uniform vec2 u_offset;
uniform float u_size;
uniform float u_dim;
uniform sampler2D u_pal;
out vec4 v_col;
void main() {
  int i = int(a_col);
  vec4 c = texelFetch(u_pal, ivec2(i % 4096, 0), 0);
  if (c.a == 0.0) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); gl_PointSize = 0.0; return; }
  v_col = vec4(c.rgb, c.a * (a_sel > 0.5 ? 1.0 : u_dim));
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  gl_PointSize = u_size;
}`;

const FS = `#version 300 es
precision mediump float;
in vec4 v_col;
uniform bool u_round;
out vec4 o;
void main() {
  if (u_round) { vec2 p = gl_PointCoord * 2.0 - 1.0; if (dot(p, p) > 1.0) discard; }
  o = vec4(v_col.rgb * v_col.a, v_col.a);
}`;

export type Rgba = [number, number, number, number];

export function parseColour(hex: string, alpha = 1): Rgba {
  return [
    Number.parseInt(hex.slice(1, 3), 16),
    Number.parseInt(hex.slice(3, 5), 16),
    Number.parseInt(hex.slice(5, 7), 16),
    Math.round(alpha * 255),
  ];
}

function compile(gl: WebGL2RenderingContext, type: number, src: string): WebGLShader {
  const s = gl.createShader(type)!;
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(`shader: ${gl.getShaderInfoLog(s)}`);
  return s;
}

/** View: clip = pos * zoom * aspect + pan, positions already normalised to [-1, 1] keeping the aspect ratio. */
export interface View {
  zoom: number;
  panX: number;
  panY: number;
}

export class PointRenderer implements Renderer {
  readonly kind = 'webgl' as const;
  readonly gl: WebGL2RenderingContext;
  private prog: WebGLProgram;
  private pos: WebGLBuffer;
  private col: WebGLBuffer;
  private sel: WebGLBuffer;
  private pal: WebGLTexture;
  private u: Record<string, WebGLUniformLocation | null> = {};
  n = 0;
  dim = 1;

  constructor(readonly canvas: HTMLCanvasElement) {
    const gl = canvas.getContext('webgl2', { antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: true });
    if (!gl) throw new Error('WebGL2 is not available in this browser');
    this.gl = gl;
    const p = gl.createProgram()!;
    gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, VS));
    gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, FS));
    gl.bindAttribLocation(p, 0, 'a_pos');
    gl.bindAttribLocation(p, 1, 'a_col');
    gl.bindAttribLocation(p, 2, 'a_sel');
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(`program: ${gl.getProgramInfoLog(p)}`);
    this.prog = p;
    for (const k of ['u_scale', 'u_offset', 'u_size', 'u_dim', 'u_pal', 'u_round']) this.u[k] = gl.getUniformLocation(p, k);
    this.pos = gl.createBuffer()!;
    this.col = gl.createBuffer()!;
    this.sel = gl.createBuffer()!;
    this.pal = gl.createTexture()!;
    gl.bindTexture(gl.TEXTURE_2D, this.pal);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
  }

  /** Interleaved x,y in [-1, 1]. */
  setPositions(xy: Float32Array) {
    const gl = this.gl;
    this.n = xy.length / 2;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.pos);
    gl.bufferData(gl.ARRAY_BUFFER, xy, gl.STATIC_DRAW);
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    this.setSelection(null);
  }

  setColours(index: Uint16Array, palette: Rgba[]) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.col);
    gl.bufferData(gl.ARRAY_BUFFER, index, gl.DYNAMIC_DRAW);
    gl.enableVertexAttribArray(1);
    gl.vertexAttribPointer(1, 1, gl.UNSIGNED_SHORT, false, 0, 0);
    this.setPalette(palette);
  }

  setPalette(palette: Rgba[]) {
    const gl = this.gl;
    const w = Math.min(4096, Math.max(1, palette.length));
    const data = new Uint8Array(w * 4);
    for (let i = 0; i < w && i < palette.length; i++) data.set(palette[i]!, i * 4);
    gl.bindTexture(gl.TEXTURE_2D, this.pal);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, w, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, data);
  }

  /** 1 for selected points; null clears (everything drawn at full opacity). */
  setSelection(mask: Uint8Array | null) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.sel);
    gl.bufferData(gl.ARRAY_BUFFER, mask ?? new Uint8Array(this.n).fill(1), gl.DYNAMIC_DRAW);
    gl.enableVertexAttribArray(2);
    gl.vertexAttribPointer(2, 1, gl.UNSIGNED_BYTE, false, 0, 0);
    this.dim = mask ? 0.12 : 1;
  }

  /** Clip-space scale for a view: one data unit spans the same pixels on both axes. */
  scale(view: View): [number, number] {
    const { width, height } = this.canvas;
    const m = Math.min(width, height);
    return [(view.zoom * m) / width, (view.zoom * m) / height];
  }

  sync() {
    // gl.finish() returns before a remote GPU process has drawn; reading a pixel waits for it.
    this.gl.readPixels(0, 0, 1, 1, this.gl.RGBA, this.gl.UNSIGNED_BYTE, new Uint8Array(4));
  }

  draw(view: View, pointSize: number) {
    const gl = this.gl;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.useProgram(this.prog);
    const [sx, sy] = this.scale(view);
    gl.uniform2f(this.u.u_scale!, sx, sy);
    gl.uniform2f(this.u.u_offset!, view.panX, view.panY);
    gl.uniform1f(this.u.u_size!, pointSize);
    gl.uniform1f(this.u.u_dim!, this.dim);
    gl.uniform1i(this.u.u_round!, pointSize > 3 ? 1 : 0);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.pal);
    gl.uniform1i(this.u.u_pal!, 0);
    gl.drawArrays(gl.POINTS, 0, this.n);
  }
}

/** Normalises x/y into interleaved [-0.95, 0.95] with one scale for both axes (keeps the embedding's shape). */
export function normalise(x: Float32Array, y: Float32Array): Float32Array {
  let x0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) {
    const a = x[i]!;
    const b = y[i]!;
    if (a < x0) x0 = a;
    if (a > x1) x1 = a;
    if (b < y0) y0 = b;
    if (b > y1) y1 = b;
  }
  const half = Math.max(x1 - x0, y1 - y0, 1e-9) / 2 / 0.95;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const out = new Float32Array(x.length * 2);
  for (let i = 0; i < x.length; i++) {
    out[2 * i] = (x[i]! - cx) / half;
    out[2 * i + 1] = (y[i]! - cy) / half;
  }
  return out;
}

/** Uniform grid over [-1, 1]^2 for nearest-point lookups (hover) without scanning every point. */
export class GridIndex {
  private start: Uint32Array;
  private order: Uint32Array;
  constructor(
    private xy: Float32Array,
    private size = 256,
  ) {
    const n = xy.length / 2;
    const cellOf = new Uint32Array(n);
    const count = new Uint32Array(size * size + 1);
    for (let i = 0; i < n; i++) {
      const c = this.cell(xy[2 * i]!, xy[2 * i + 1]!);
      cellOf[i] = c;
      count[c + 1]!++;
    }
    for (let c = 0; c < size * size; c++) count[c + 1]! += count[c]!;
    this.start = count;
    const fill = count.slice();
    this.order = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.order[fill[cellOf[i]!]!++] = i;
  }
  private coord(v: number) {
    return Math.max(0, Math.min(this.size - 1, Math.floor(((v + 1) / 2) * this.size)));
  }
  private cell(x: number, y: number) {
    return this.coord(y) * this.size + this.coord(x);
  }
  /** Nearest visible point within radius r (data units), or -1. */
  nearest(x: number, y: number, r: number, visible: (i: number) => boolean): number {
    const c0 = this.coord(x - r);
    const c1 = this.coord(x + r);
    const r0 = this.coord(y - r);
    const r1 = this.coord(y + r);
    let best = -1;
    let bestD = r * r;
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const c = row * this.size + col;
        for (let k = this.start[c]!; k < this.start[c + 1]!; k++) {
          const i = this.order[k]!;
          const dx = this.xy[2 * i]! - x;
          const dy = this.xy[2 * i + 1]! - y;
          const d = dx * dx + dy * dy;
          if (d <= bestD && visible(i)) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }
}

/** Indices of visible points inside a polygon (data units), by even-odd ray casting after a bounding-box test. */
export function pointsInPolygon(xy: Float32Array, poly: [number, number][], visible: (i: number) => boolean): number[] {
  if (poly.length < 3) return [];
  let minX = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const [px, py] of poly) {
    minX = Math.min(minX, px);
    maxX = Math.max(maxX, px);
    minY = Math.min(minY, py);
    maxY = Math.max(maxY, py);
  }
  const out: number[] = [];
  const n = xy.length / 2;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i]!;
    const y = xy[2 * i + 1]!;
    if (x < minX || x > maxX || y < minY || y > maxY) continue;
    let inside = false;
    for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
      const [ax, ay] = poly[a]!;
      const [bx, by] = poly[b]!;
      if (ay > y !== by > y && x < ((bx - ax) * (y - ay)) / (by - ay) + ax) inside = !inside;
    }
    if (inside && visible(i)) out.push(i);
  }
  return out;
}

/** What both renderers offer the view. */
export interface Renderer {
  readonly kind: 'webgl' | 'cpu';
  readonly canvas: HTMLCanvasElement;
  setPositions(xy: Float32Array): void;
  setColours(index: Uint16Array, palette: Rgba[]): void;
  setPalette(palette: Rgba[]): void;
  setSelection(mask: Uint8Array | null): void;
  scale(view: View): [number, number];
  draw(view: View, pointSize: number): void;
  /** Blocks until the last draw is really finished (for honest timings). */
  sync(): void;
}

/**
 * Draws points straight into an ImageData buffer. Used when WebGL is software-emulated (no GPU, e.g. a
 * headless or remote browser): there a tight JS loop is several times faster than the emulated pipeline.
 */
export class CpuRenderer implements Renderer {
  readonly kind = 'cpu' as const;
  private ctx: CanvasRenderingContext2D;
  private xy: Float32Array = new Float32Array(0);
  private index: Uint16Array = new Uint16Array(0);
  private palette: Uint8Array = new Uint8Array(0);
  private mask: Uint8Array | null = null;
  private image: ImageData | null = null;

  constructor(readonly canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext('2d', { alpha: true })!;
  }
  setPositions(xy: Float32Array) {
    this.xy = xy;
    this.mask = null;
  }
  setColours(index: Uint16Array, palette: Rgba[]) {
    this.index = index;
    this.setPalette(palette);
  }
  setPalette(palette: Rgba[]) {
    this.palette = new Uint8Array(palette.length * 4);
    for (let i = 0; i < palette.length; i++) this.palette.set(palette[i]!, i * 4);
  }
  setSelection(mask: Uint8Array | null) {
    this.mask = mask;
  }
  scale(view: View): [number, number] {
    const { width, height } = this.canvas;
    const m = Math.min(width, height);
    return [(view.zoom * m) / width, (view.zoom * m) / height];
  }
  sync() {}
  draw(view: View, pointSize: number) {
    const W = this.canvas.width;
    const H = this.canvas.height;
    if (!this.image || this.image.width !== W || this.image.height !== H) this.image = this.ctx.createImageData(W, H);
    const px = this.image.data;
    px.fill(0);
    const [sx, sy] = this.scale(view);
    // clip -> pixel: x' = (x*sx + panX + 1) / 2 * W
    const ax = (sx * W) / 2;
    const bx = ((view.panX + 1) * W) / 2;
    const ay = (-sy * H) / 2;
    const by = ((1 - view.panY) * H) / 2;
    const s = Math.max(1, Math.round(pointSize));
    const half = (s - 1) >> 1;
    // Points of 4 px and more are drawn round, as the WebGL renderer does: a precomputed disc mask.
    const disc = new Uint8Array(s * s);
    const rr = (s / 2) ** 2;
    for (let v = 0; v < s; v++)
      for (let u = 0; u < s; u++) disc[v * s + u] = s < 4 || (u + 0.5 - s / 2) ** 2 + (v + 0.5 - s / 2) ** 2 <= rr ? 1 : 0;
    const pal = this.palette;
    const nPal = pal.length / 4;
    const xy = this.xy;
    const idx = this.index;
    const mask = this.mask;
    const n = xy.length / 2;
    for (let i = 0; i < n; i++) {
      const c = (idx[i]! < nPal ? idx[i]! : 0) * 4;
      let a = pal[c + 3]!;
      if (a === 0) continue;
      if (mask && !mask[i]) a = (a * 31) >> 8;
      const x0 = ((xy[2 * i]! * ax + bx) | 0) - half;
      const y0 = ((xy[2 * i + 1]! * ay + by) | 0) - half;
      if (x0 >= W || y0 >= H || x0 + s <= 0 || y0 + s <= 0) continue;
      const r = pal[c]!;
      const g = pal[c + 1]!;
      const b = pal[c + 2]!;
      const ia = 255 - a;
      for (let yy = Math.max(0, y0), ye = Math.min(H, y0 + s); yy < ye; yy++) {
        for (let xx = Math.max(0, x0), xe = Math.min(W, x0 + s); xx < xe; xx++) {
          if (!disc[(yy - y0) * s + (xx - x0)]) continue;
          // "Over" compositing with premultiplied destination, in 0..255 integers.
          const o = (yy * W + xx) * 4;
          px[o] = (r * a + px[o]! * ia) >> 8;
          px[o + 1] = (g * a + px[o + 1]! * ia) >> 8;
          px[o + 2] = (b * a + px[o + 2]! * ia) >> 8;
          px[o + 3] = a + ((px[o + 3]! * ia) >> 8);
        }
      }
    }
    // ImageData is not premultiplied: un-premultiply the covered pixels.
    for (let o = 0; o < px.length; o += 4) {
      const al = px[o + 3]!;
      if (al !== 0 && al !== 255) {
        px[o] = Math.min(255, (px[o]! * 255) / al);
        px[o + 1] = Math.min(255, (px[o + 1]! * 255) / al);
        px[o + 2] = Math.min(255, (px[o + 2]! * 255) / al);
      }
    }
    this.ctx.putImageData(this.image, 0, 0);
  }
}

/** True when this browser's WebGL is a software emulation (SwiftShader, llvmpipe): no usable GPU. */
export function softwareWebgl(): boolean {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return true;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return /swiftshader|llvmpipe|software|basic render/i.test(name);
}

/** WebGL2 when there is a GPU, the CPU renderer otherwise; `prefer` forces one (tests, benchmarks). */
export function createRenderer(canvas: HTMLCanvasElement, prefer: 'webgl' | 'cpu' | 'auto' = 'auto'): Renderer {
  const kind = prefer === 'auto' ? (softwareWebgl() ? 'cpu' : 'webgl') : prefer;
  return kind === 'webgl' ? new PointRenderer(canvas) : new CpuRenderer(canvas);
}
