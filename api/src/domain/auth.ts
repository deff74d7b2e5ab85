// Tokens and who may do what: API tokens (tokens table, plus the SCRNA_ADMIN_TOKEN bootstrap), per-run tokens (handed
// to Nextflow), their projects and scopes, and the project rule every run-scoped request goes through.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError } from './errors.js';
import type { Run } from './ports.js';
import type { Repositories } from './repositories.js';

/** What an API token may do; `admin` implies every other scope (and minting tokens, managing projects). */
export type Scope = 'runs:read' | 'runs:write' | 'events:write' | 'admin';
export const SCOPES: readonly Scope[] = ['runs:read', 'runs:write', 'events:write', 'admin'];

/**
 * Who is calling: an API token (of one project, with scopes), or a per-run token (Nextflow's, bound to one run and
 * so to that run's project).
 */
export type Principal =
  | { kind: 'api'; tokenId: string; project: string; scopes: readonly Scope[]; admin: boolean }
  | { kind: 'run'; runId: string; project: string };

/** The project every install has; an anonymous caller on an open install works in it. */
export const DEFAULT_PROJECT = 'default';

/** The project a caller works in ('default' for an anonymous caller on an open install). */
export const projectOf = (p: Principal | null): string => p?.project ?? DEFAULT_PROJECT;

/** The owner recorded for the bootstrap admin token (it has no row in the tokens table). */
export const BOOTSTRAP_TOKEN_ID = 'bootstrap';
/** Tokens we mint are 32 characters; anything far longer is not a token and is not hashed or looked up. */
const MAX_TOKEN_LENGTH = 512;
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');
export const newToken = () => randomBytes(24).toString('base64url');

/**
 * The token in `Authorization: Bearer <t>` or `Basic base64(user:<t>)` (what nf-weblog's weblog.basicToken sends).
 * Anything else (no scheme, other schemes, empty, over-long, non-printable or non-ASCII bytes) is no token.
 */
export function tokenFromHeader(h: string | undefined): string | null {
  if (!h) return null;
  const [scheme, value, rest] = h.trim().split(/\s+/);
  if (!value || rest !== undefined) return null;
  let token: string | null = null;
  if (/^bearer$/i.test(scheme!)) token = value;
  else if (/^basic$/i.test(scheme!)) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null;
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    token = colon >= 0 ? decoded.slice(colon + 1) : decoded;
  }
  return token && token.length <= MAX_TOKEN_LENGTH && TOKEN_CHARS.test(token) ? token : null;
}

export class Authenticator {
  private readonly cache = new Map<string, { p: Principal | null; at: number }>();

  constructor(
    private readonly repos: Pick<Repositories, 'runs' | 'tokens'>,
    private readonly adminToken: string | null,
    private readonly ttlMs = 30_000,
  ) {}

  /** The caller's principal; null when no usable token was sent or the token is unknown. */
  async authenticate(header: string | undefined): Promise<Principal | null> {
    const token = tokenFromHeader(header);
    if (!token) return null;
    // tokenFromHeader admits ASCII only, so equal string lengths are equal byte lengths (timingSafeEqual needs that).
    if (this.adminToken && token.length === this.adminToken.length && timingSafeEqual(Buffer.from(token), Buffer.from(this.adminToken)))
      return { kind: 'api', admin: true, tokenId: BOOTSTRAP_TOKEN_ID, project: DEFAULT_PROJECT, scopes: ['admin'] };
    // Keyed by the token itself, so a cache hit (every event request of a run) needs no hashing.
    const hit = this.cache.get(token);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.p;
    const hash = hashToken(token);
    let p: Principal | null = null;
    const t = await this.repos.tokens.find(hash);
    if (t) p = { kind: 'api', admin: t.scopes.includes('admin'), tokenId: t.id, project: t.project, scopes: t.scopes };
    else {
      const run = await this.repos.runs.byTokenHash(hash);
      if (run) p = { kind: 'run', runId: run.id, project: run.project };
    }
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(token, { p, at: Date.now() });
    return p;
  }

  /** Drops a revoked token from the cache, so it stops working in this process at once. */
  forget(tokenId: string): void {
    for (const [token, hit] of this.cache) if (hit.p?.kind === 'api' && hit.p.tokenId === tokenId) this.cache.delete(token);
  }
}

/** What a request does with a run: reading it, or changing it (cancel, relaunch, trace, results). */
export type RunAccess = 'read' | 'write';

/** What a route declares (see http/access.ts). */
export type RouteAccess = 'open' | 'read' | 'write' | 'events' | 'admin';

/** The scope a route needs: a write to a run needs `runs:write` even on a route declared as a read. Null: none. */
export function requiredScope(access: RouteAccess, run?: RunAccess): Scope | null {
  if (access === 'open') return null;
  if (access === 'events') return 'events:write';
  if (access === 'admin') return 'admin';
  return access === 'write' || run === 'write' ? 'runs:write' : 'runs:read';
}

/** Whether an API token holds a scope (`admin` holds them all). */
export const hasScope = (p: Extract<Principal, { kind: 'api' }>, scope: Scope): boolean => p.admin || p.scopes.includes(scope);

/**
 * Whether a caller may see or change a run. `null` is an anonymous caller, who gets everything only on an open
 * (single-user, auth not required) install. Admins reach every run; other API tokens the runs of their project;
 * a per-run token only its own run, and only to read it (its writes are events). Scopes are checked per route.
 */
export function mayAccessRun(p: Principal | null, run: Pick<Run, 'id' | 'project'>, access: RunAccess, authRequired: boolean): boolean {
  if (!p) return !authRequired;
  if (p.kind === 'run') return access === 'read' && p.runId === run.id;
  return p.admin || run.project === p.project;
}

/** The project whose runs a caller may list; null: every project (an admin, or anonymous on an open install). */
export function visibleProject(p: Principal | null): string | null {
  if (!p || (p.kind === 'api' && p.admin)) return null;
  return p.project;
}

/** The owner a new run gets from the caller that creates it (kept for the record; access goes by project). */
export const ownerOf = (p: Principal | null): string | null => (p?.kind === 'api' ? p.tokenId : null);

/**
 * Which run a caller's events may name with `platformRunId`: a per-run token only its own run, an admin any run.
 * Other API tokens name none: a platform run's status moves only through its own token.
 */
export function checkNamedRun(p: Principal, platformRunId: string | undefined, field: string): void {
  if (platformRunId === undefined) return;
  if (p.kind === 'run' ? p.runId === platformRunId : p.admin) return;
  throw new DomainError('forbidden', `${field}: only that run's own token (or an admin token) may report on run ${platformRunId}`, {
    field,
  });
}
