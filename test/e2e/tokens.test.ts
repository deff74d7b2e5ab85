// The Tokens page in Debian Chromium (an open local install, where anyone may administer tokens): a token created
// from the form works against the API with the scopes chosen, and revoking it from the list stops it at once.
import t from 'tap';
import { browserSession } from './platform.js';

const { base, platform, page, pageErrors } = await browserSession(t, 'tokens');

t.test('create, use, revoke', async (t) => {
  await page.goto(`${base}/tokens`);
  await page.getByLabel('Name').fill('lims-reader');
  // Read only: uncheck the write scopes.
  await page.getByLabel('runs:write').uncheck();
  await page.getByLabel('events:write').uncheck();
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = await page.getByTestId('token-secret').textContent({ timeout: 15000 });
  const token = /: (\S+)$/.exec(shown!.trim())?.[1];
  t.ok(token && token.length >= 20, 'the secret is shown once');
  const row = page.locator('[data-testid=token][data-name=lims-reader]');
  t.match(await row.textContent(), /default.*runs:read.*active/, 'listed with its project and scopes');

  const as = (method: 'GET' | 'POST', url: string) =>
    platform.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(method === 'POST' ? { payload: {} } : {}) });
  t.equal((await as('GET', '/api/v1/runs')).statusCode, 200, 'it reads runs');
  const write = await as('POST', '/api/v1/webhooks');
  t.equal(write.statusCode, 403, 'but may not write');
  t.match(write.json().message, /runs:write/);

  await row.getByRole('button', { name: 'Revoke' }).click();
  await page.locator('[data-testid=token][data-name=lims-reader][data-revoked=yes]').waitFor({ timeout: 15000 });
  t.equal((await as('GET', '/api/v1/runs')).statusCode, 401, 'revoked: refused at once');
  t.same(pageErrors, [], 'no page errors');
});
