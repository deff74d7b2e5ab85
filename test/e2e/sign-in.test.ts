// With SCRNA_REQUIRE_AUTH on, the UI asks for an API token where the API answers 401, signs the browser in (an
// HttpOnly cookie the live views send too), and then shows the signed-in token's project and only its runs.
import t from 'tap';
import { browserSession } from './platform.js';

const ADMIN = 'e2e-admin-token-0123456789abcdef';
const { base, platform, page, browser } = await browserSession(
  t,
  'signin',
  { requireAuth: true, adminToken: ADMIN },
  { width: 1280, height: 800 },
);

/** A token of its own project, named after it. */
async function mint(name: string) {
  const headers = { authorization: `Bearer ${ADMIN}` };
  await platform.app.inject({ method: 'POST', url: '/api/v1/projects', payload: { id: name }, headers });
  const r = await platform.app.inject({ method: 'POST', url: '/api/v1/tokens', payload: { name, project: name }, headers });
  return r.json() as { id: string; token: string };
}

t.test('sign in from the runs page, see own runs only, live stream authorised by the cookie', async (t) => {
  const alice = await mint('alice');
  const bob = await mint('bob');
  for (const [name, owner] of [
    ['alice-run', alice.id],
    ['bob-run', bob.id],
  ] as const)
    await platform.repos.runs.create({
      id: crypto.randomUUID(),
      name,
      status: 'RUNNING',
      source: 'platform',
      owner,
      project: name.replace('-run', ''),
    });
  await page.goto(`${base}/`);
  const form = page.getByTestId('sign-in');
  await form.waitFor();
  t.match(await page.getByRole('alert').first().textContent(), /token is required/, 'the 401 is explained');
  await page.getByTestId('token-input').fill('wrong-token');
  await form.getByRole('button', { name: 'Sign in' }).click();
  await form.getByText('not an API token').waitFor();
  t.equal(await page.getByText('alice-run').count(), 0, 'a wrong token is refused with the reason, and shows nothing');
  await page.getByTestId('token-input').fill(alice.token);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('alice-run').waitFor();
  t.equal(await page.getByText('bob-run').count(), 0, "bob's project's run is not listed for alice");
  t.match(await page.getByTestId('project').textContent(), /project alice/, 'the header shows the signed-in project');
  const cookies = await browser.context.cookies(`${base}/api/v1/runs`);
  t.ok(cookies.find((c) => c.name === 'scrna_token')?.httpOnly, 'the token is kept in an HttpOnly cookie');
  // EventSource sends the cookie: the stream answers 200 instead of 401.
  const status = await page.evaluate(
    (url) =>
      new Promise<string>((resolve) => {
        const es = new EventSource(url);
        const end = (how: string) => {
          es.close();
          resolve(how);
        };
        es.onopen = () => end('open');
        es.onerror = () => end('error');
      }),
    `${base}/api/v1/stream/runs`,
  );
  t.equal(status, 'open', 'the live run stream is authorised by the cookie');
});
