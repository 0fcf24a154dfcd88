// A JSON body nested thousands deep, at the default body limit: refused as a bad entry,
// never a 500. The prototype-key walk once recursed and overflowed the stack for any
// caller, before authentication. Real server, Redis and Postgres.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, type ApiHarness } from '../../helpers/api.js';

let api: ApiHarness;
let writer: string;
test.before(async () => {
  api = await startApi();
  writer = (await api.tenant('deep-body')).adminKey;
});
test.after(async () => api?.close());

const errorOf = async (res: Response) => ({ status: res.status, body: (await res.json()) as { error: { code: string; fields?: Array<{ path: string }> } } });

test('200,000 deep (400 KB, with a \\u escape so the walk runs) is a 400, and a __proto__ under 50,000 levels is found', async () => {
  const deep = `{"entries":[{"actorType":"user","metadata":{"a":${'['.repeat(200_000)}${']'.repeat(200_000)},"c":"\\u0041"}}]}`;
  const e = await errorOf(await api.call('POST', '/v1/audit/batch', { key: writer, body: deep }));
  assert.is(e.status, 400, JSON.stringify(e));
  const poisoned = `{"entries":[{"metadata":{"a":${'['.repeat(50_000)}{"__proto__":1}${']'.repeat(50_000)}}}]}`;
  const p = await errorOf(await api.call('POST', '/v1/audit/batch', { key: writer, body: poisoned }));
  assert.equal([p.status, p.body.error.code], [400, 'validation_failed']);
  assert.match(p.body.error.fields![0]!.path, /__proto__$/);
  // Unauthenticated, the same body is a 401, not a 500.
  assert.is((await api.call('POST', '/v1/audit/batch', { body: deep })).status, 401);
});

test.run();
