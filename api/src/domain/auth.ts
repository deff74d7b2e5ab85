// Tokens: API tokens (tokens table, plus the SCRNA_ADMIN_TOKEN bootstrap) and per-run tokens (handed to Nextflow).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RunStore } from './ports.js';

export type Principal = { kind: 'api'; admin: boolean; tokenId: string } | { kind: 'run'; runId: string };

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
export const newToken = () => randomBytes(24).toString('base64url');

/** The token in `Authorization: Bearer <t>` or `Basic base64(user:<t>)` (what nf-weblog's weblog.basicToken sends). */
export function tokenFromHeader(h: string | undefined): string | null {
  if (!h) return null;
  const [scheme, value] = h.trim().split(/\s+/, 2);
  if (!value) return null;
  if (/^bearer$/i.test(scheme!)) return value;
  if (/^basic$/i.test(scheme!)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : decoded;
  }
  return null;
}

export class Authenticator {
  private readonly cache = new Map<string, { p: Principal | null; at: number }>();

  constructor(
    private readonly store: RunStore,
    private readonly adminToken: string | null,
    private readonly ttlMs = 30_000,
  ) {}

  async authenticate(header: string | undefined): Promise<Principal | null> {
    const token = tokenFromHeader(header);
    if (!token) return null;
    if (this.adminToken && token.length === this.adminToken.length && timingSafeEqual(Buffer.from(token), Buffer.from(this.adminToken)))
      return { kind: 'api', admin: true, tokenId: 'bootstrap' };
    // Keyed by the token itself, so a cache hit (every event request of a run) needs no hashing.
    const hit = this.cache.get(token);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.p;
    const hash = hashToken(token);
    let p: Principal | null = null;
    const t = await this.store.findToken(hash);
    if (t) p = { kind: 'api', admin: t.admin, tokenId: t.id };
    else {
      const runId = await this.store.findRunByTokenHash(hash);
      if (runId) p = { kind: 'run', runId };
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(token, { p, at: Date.now() });
    return p;
  }
}
