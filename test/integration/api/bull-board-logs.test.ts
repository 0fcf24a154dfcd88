// What Bull Board's refusals log: without an operator credential configured, start-up
// says once that the board is closed; a browser's requests without credentials (the page
// and each asset, before it answers the challenge) log one line per address per window,
// the next line counting those left out; wrong credentials are logged every time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MISSING_LOG_WINDOW_MS } from '../../../api/operator-denials.js';
import { basic, OPERATOR, startApi, type ApiHarness } from '../../helpers/api.js';

const opened: ApiHarness[] = [];
test.after(async () => {
  for (const api of opened) await api.close();
});

const missingLines = (api: ApiHarness) =>
  api.logs.events().filter((e) => e.event === 'operator_auth_denied' && e.reason === 'missing');

test('without OPERATOR_USERNAME/OPERATOR_PASSWORD, start-up logs once that Bull Board is closed, and the board answers 401', async () => {
  const api = await startApi({ OPERATOR_USERNAME: '', OPERATOR_PASSWORD: '' });
  opened.push(api);
  const closed = api.logs.events().filter((e) => e.event === 'bull_board_closed');
  assert.is(closed.length, 1);
  assert.is(closed[0]!.level, 'info');
  assert.match(String(closed[0]!.msg), 'OPERATOR_USERNAME and OPERATOR_PASSWORD');
  for (const headers of [{}, { authorization: basic('ops', 'anything-at-all') }] as Array<Record<string, string>>) {
    const res = await api.call('GET', '/admin/queues', { headers });
    assert.is(res.status, 401);
    await res.arrayBuffer();
  }
  assert.is(api.logs.events().filter((e) => e.event === 'bull_board_closed').length, 1, 'once, not per request');
});

test('with the operator credential set, nothing says the board is closed', async () => {
  const api = await startApi();
  opened.push(api);
  assert.is(api.logs.events().filter((e) => e.event === 'bull_board_closed').length, 0);
});

test('a page load without credentials logs one line, not one per asset; wrong credentials every time', async () => {
  // A clock that moves only when the test moves it: the window is the clock's, not the test's pace.
  const base = Date.now();
  let offset = 0;
  const api = await startApi({}, (c) => c, { clock: () => new Date(base + offset) });
  opened.push(api);
  const paths = [
    '/admin/queues',
    '/admin/queues/api/queues',
    '/admin/queues/api/redis/stats',
    '/admin/queues/static/css/main.css',
    '/admin/queues/static/js/main.js',
  ];
  for (let i = 0; i < 12; i++) {
    const res = await api.call('GET', paths[i % paths.length]!);
    assert.is(res.status, 401, paths[i % paths.length]);
    await res.arrayBuffer();
  }
  assert.is(missingLines(api).length, 1, 'twelve requests without credentials from one address: one line');
  assert.is(missingLines(api)[0]!.unlogged_since_last, undefined);

  offset += MISSING_LOG_WINDOW_MS;
  const again = await api.call('GET', '/admin/queues');
  assert.is(again.status, 401);
  await again.arrayBuffer();
  const lines = missingLines(api);
  assert.is(lines.length, 2, 'the next page load, a window later, logs again');
  assert.is(lines[1]!.unlogged_since_last, 11, 'counting the requests left out');

  for (let i = 0; i < 2; i++) {
    const wrong = await api.call('GET', '/admin/queues', {
      headers: { authorization: basic(OPERATOR.username, `wrong-password-${i}`) },
    });
    assert.is(wrong.status, 401);
    await wrong.arrayBuffer();
  }
  const wrongLines = api.logs
    .events()
    .filter((e) => e.event === 'operator_auth_denied' && e.reason === 'wrong_credentials');
  assert.is(wrongLines.length, 2, 'a wrong password is logged every time');
  const ok = await api.call('GET', '/admin/queues/api/queues', {
    headers: { authorization: basic(OPERATOR.username, OPERATOR.password) },
  });
  assert.is(ok.status, 200);
  await ok.arrayBuffer();
});

test.run();
