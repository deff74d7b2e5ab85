// `scrna tokens` and `scrna projects`: the operator's commands for API tokens and projects (an admin token).
//   scrna tokens create NAME [--project P] [--scope S]... [--admin]     (prints the secret once)
//   scrna tokens list [--project P]      scrna tokens revoke ID
//   scrna projects create ID [--name N]  scrna projects list

/** What the CLI hands a command module: its HTTP calls, its output, and the parsed options it uses. */
export interface CliContext {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  call(method: string, path: string): Promise<unknown>;
  out(o: unknown, human: string): void;
  fail(message: string): never;
  opt: { project?: string; scope?: string[]; admin?: boolean; name?: string };
}

export const ACCESS_USAGE = `  tokens create NAME [--project P] [--scope S]... [--admin]   (the secret is printed once)
  tokens list [--project P]     tokens revoke TOKEN_ID
  projects create ID [--name N]     projects list`;

interface TokenView {
  id: string;
  name: string;
  project: string;
  scopes: string[];
  createdAt: string;
  revokedAt: string | null;
  token?: string;
}

const row = (t: TokenView) =>
  `${t.id}  ${t.project.padEnd(12)}  ${t.scopes.join(',').padEnd(36)}  ${t.revokedAt ? 'revoked' : 'active '}  ${t.name}`;

/** Runs `tokens ...` or `projects ...`; null when the command is not one of these. */
export async function accessCommand(
  ctx: CliContext,
  cmd: string,
  sub: string | undefined,
  arg: string | undefined,
): Promise<number | null> {
  const { json, out, opt } = ctx;
  if (cmd === 'tokens' && sub === 'create') {
    if (!arg) ctx.fail('tokens create needs a name');
    const t = await json<TokenView>('POST', '/api/v1/tokens', {
      name: arg,
      ...(opt.project ? { project: opt.project } : {}),
      ...(opt.scope?.length ? { scopes: opt.scope } : {}),
      ...(opt.admin ? { admin: true } : {}),
    });
    out(t, `${row(t)}\ntoken (shown once): ${t.token}`);
    return 0;
  }
  if (cmd === 'tokens' && sub === 'list') {
    const r = await json<{ items: TokenView[] }>(
      'GET',
      `/api/v1/tokens${opt.project ? `?project=${encodeURIComponent(opt.project)}` : ''}`,
    );
    out(r, r.items.map(row).join('\n') || '(no tokens)');
    return 0;
  }
  if (cmd === 'tokens' && sub === 'revoke') {
    if (!arg) ctx.fail('tokens revoke needs a token id');
    await ctx.call('DELETE', `/api/v1/tokens/${encodeURIComponent(arg)}`);
    out({ id: arg, revoked: true }, `revoked ${arg}`);
    return 0;
  }
  if (cmd === 'projects' && sub === 'create') {
    if (!arg) ctx.fail('projects create needs an id');
    const p = await json<{ id: string; name: string }>('POST', '/api/v1/projects', { id: arg, ...(opt.name ? { name: opt.name } : {}) });
    out(p, `${p.id}  ${p.name}`);
    return 0;
  }
  if (cmd === 'projects' && sub === 'list') {
    const r = await json<{ items: { id: string; name: string }[] }>('GET', '/api/v1/projects');
    out(r, r.items.map((p) => `${p.id}  ${p.name}`).join('\n'));
    return 0;
  }
  return null;
}
