// Bull Board in a real headless Chromium: without credentials the page is refused;
// with operator credentials every queue of the worker registry is listed, read-only by default.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { ALL_QUEUES } from '../../helpers/queues.js';
import { withTimeout } from '../../helpers/env.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let api: ApiHarness;
let browser: Browser;
let admin: string;

test.before(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (.ci/run does)`);
  api = await startApi();
  admin = (await api.tenant('board-tenant')).adminKey;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

test.after(async () => {
  await browser?.close();
  await api?.close();
});

test('without credentials the dashboard answers 401 and shows no queue', async () => {
  const page = await browser.newPage();
  // Chromium answers a Basic challenge it has no credentials for by failing the navigation.
  const outcome = await page.goto(`${api.url}/admin/queues`).then(
    (res) => `status ${res?.status()}`,
    (err: Error) => err.message,
  );
  assert.match(outcome, /status 401|ERR_INVALID_AUTH_CREDENTIALS/);
  const text = await page.textContent('body').catch(() => '');
  assert.not.match(text ?? '', ALL_QUEUES[0]!);
  await page.close();
  const wrong = await fetch(`${api.url}/admin/queues`, {
    headers: { authorization: basic(OPERATOR.username, 'not-the-password') },
  });
  assert.is(wrong.status, 401);
  const api401 = await fetch(`${api.url}/admin/queues/api/queues`);
  assert.is(api401.status, 401, 'the dashboard API is guarded as well');
});

test('with operator credentials every queue is listed in the browser', async () => {
  const context = await browser.newContext({
    httpCredentials: { username: OPERATOR.username, password: OPERATOR.password },
  });
  const page = await context.newPage();
  const res = await page.goto(`${api.url}/admin/queues`);
  assert.is(res?.status(), 200);
  for (const q of ALL_QUEUES) {
    await withTimeout(page.getByText(q, { exact: true }).first().waitFor(), 15_000, `queue ${q} on the page`);
  }
  assert.match((await page.title()) ?? '', 'Bulwark (read-only)');
  assert.match(res?.headers()['content-security-policy'] ?? '', "frame-ancestors 'none'");
  await context.close();
});

test("a tenant's admin key does not open the board (it shows every tenant's jobs); operator credentials do, read-only", async () => {
  const tenantKey = await fetch(`${api.url}/admin/queues/api/queues`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  assert.is(tenantKey.status, 401);
  const res = await fetch(`${api.url}/admin/queues/api/queues`, {
    headers: { authorization: basic(OPERATOR.username, OPERATOR.password) },
  });
  assert.is(res.status, 200);
  const body = (await res.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
  // Every queue of the worker registry (ALL_QUEUES derives from it), and no other.
  assert.equal(body.queues.map((q) => q.name).sort(), [...ALL_QUEUES].sort());
  assert.ok(
    body.queues.every((q) => q.readOnlyMode),
    'read-only by default',
  );
});

test.run();
