// The Webhooks page in Debian Chromium: subscribe a receiver from the form (secret shown once), see a run's
// delivery in the log, redeliver it, and a private target refused with the API's reason.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { browserSession } from './platform.js';

const got: string[] = [];
const rx = createServer((req, res) => {
  got.push(String(req.headers['webhook-id']));
  req.resume();
  res.writeHead(204).end();
});
await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
t.teardown(() => new Promise<void>((r) => rx.close(() => r())));
const target = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;

const { base, platform, page, pageErrors } = await browserSession(t, 'webhooks', {
  webhooks: { allowNetworks: ['127.0.0.0/8'], retryBaseMs: 50, retryMaxMs: 400, retryWindowMs: 3_600_000, pollMs: 100 },
});

t.test('subscribe, see the delivery, redeliver', async (t) => {
  await page.goto(`${base}/webhooks`);
  await page.getByTestId('webhooks-empty').waitFor({ timeout: 15000 });
  await page.getByLabel('Receiver URL').fill('http://10.0.0.7/hook');
  await page.getByRole('button', { name: 'Subscribe' }).click();
  t.match(await page.getByTestId('webhook-error').textContent({ timeout: 15000 }), /10\.0\.0\.7 is not a public address/);

  await page.getByLabel('Receiver URL').fill(target);
  await page.getByRole('button', { name: 'Subscribe' }).click();
  t.match(await page.getByTestId('webhook-secret').textContent({ timeout: 15000 }), /whsec_/, 'the secret, once');
  await page.getByTestId('webhook').waitFor();

  await platform.repos.runs.create({ id: crypto.randomUUID(), name: 'hooked', status: 'COMPLETED', source: 'platform' });
  for (let i = 0; i < 200 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(got.length, 1, 'the receiver got run.completed');
  await page.reload();
  const row = page.locator('[data-testid=delivery][data-state=delivered]');
  await row.waitFor({ timeout: 15000 });
  t.match(await row.textContent(), /run\.completed.*delivered.*1.*204/);
  await row.getByRole('button', { name: 'Redeliver' }).click();
  for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(got[1], got[0], 'the same message again');
  t.same(pageErrors, [], 'no page errors');
});
