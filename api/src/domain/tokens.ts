// Minting, listing and revoking API tokens, and the projects they belong to. A token's secret is returned once and
// only its SHA-256 is kept; a revoked token stops working at once in this process (the Authenticator forgets it)
// and in any other within the Authenticator's cache time (30 s).
import { randomUUID } from 'node:crypto';
import { type Authenticator, BOOTSTRAP_TOKEN_ID, hashToken, newToken, type Scope } from './auth.js';
import { DomainError } from './errors.js';
import type { ProjectRecord, Repositories, TokenRecord } from './repositories.js';

/** What a token gets when its scopes are not given: everything a pipeline user does, nothing an operator does. */
export const DEFAULT_SCOPES: readonly Scope[] = ['runs:read', 'runs:write', 'events:write'];
export const PROJECT_ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

export class TokenService {
  constructor(
    private readonly repos: Pick<Repositories, 'tokens' | 'projects'>,
    private readonly auth: Pick<Authenticator, 'forget'>,
  ) {}

  async mint(t: { name: string; project: string; scopes: readonly Scope[] }): Promise<TokenRecord & { token: string }> {
    if (!(await this.repos.projects.exists(t.project)))
      throw new DomainError('invalid', `project: no project '${t.project}' (create it first: POST /projects)`, { field: 'project' });
    const token = newToken();
    const id = randomUUID();
    const scopes = [...new Set(t.scopes)].sort() as Scope[];
    await this.repos.tokens.create({ id, name: t.name, hash: hashToken(token), project: t.project, scopes });
    return { id, name: t.name, project: t.project, scopes, createdAt: new Date().toISOString(), revokedAt: null, token };
  }

  list(project?: string): Promise<TokenRecord[]> {
    return this.repos.tokens.list(project);
  }

  async revoke(id: string): Promise<void> {
    if (id === BOOTSTRAP_TOKEN_ID)
      throw new DomainError('conflict', 'the bootstrap admin token is SCRNA_ADMIN_TOKEN in the configuration: change it there', {
        field: 'id',
      });
    if (!(await this.repos.tokens.revoke(id))) throw new DomainError('not_found', 'token not found', { field: 'id' });
    this.auth.forget(id);
  }

  async createProject(p: { id: string; name: string }): Promise<ProjectRecord> {
    if (!(await this.repos.projects.create(p))) throw new DomainError('conflict', `project '${p.id}' exists already`, { field: 'id' });
    return (await this.repos.projects.list()).find((x) => x.id === p.id)!;
  }

  listProjects(): Promise<ProjectRecord[]> {
    return this.repos.projects.list();
  }
}
