// The optional second place (AUDIT_CHECKPOINT_WEBHOOK_URL), against a real local HTTP
// receiver, Postgres and s3rver: the checkpoints a job writes are POSTed as stored and
// verify with the public key; a 5xx is retried; a receiver that stays down is logged
// and counted without failing the job or leaking the URL; a retried job sends what its
// earlier attempt wrote; nothing is posted for checkpoints another run wrote.
import { test } from 'uvu';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as assert from 'uvu/assert';
import { checkSignature, checkpointKey, decodeCheckpoint, hourOf } from '../../../lib/checkpoints/format.js';
import { readChainHeads } from '../../../lib/checkpoints/write.js';
import { runAuditCheckpoint } from '../../../workers/audit/checkpoint-worker.js';
import { cleanup, setup } from '../../helpers/lifecycle.js';
import { replies, startReceiver, type Receiver } from '../../helpers/receiver.js';
import { objectBytes, startCheckpointHarness, type CheckpointHarness } from '../../helpers/checkpoints.js';

let h: CheckpointHarness;
let rx: Receiver;
const HOUR = 3_600_000;
const at = (k: number) => new Date(Math.floor(Date.now() / HOUR - k) * HOUR + 600_000).toISOString();
const TOKEN = 'tok-9f8e7d6c5b4a';

test.before(
  setup(async () => {
    h = await startCheckpointHarness({ tenants: 2, entries: 5 });
    rx = await startReceiver();
  }),
);
test.after(
  cleanup([
    ['close receiver', () => rx?.close()],
    ['close harness', () => h?.close()],
  ]),
);

const withHook = (url = `${rx.url}/hook/${TOKEN}`) =>
  h.context({ env: { AUDIT_CHECKPOINT_WEBHOOK_URL: url, ALERT_HTTP_TIMEOUT_MS: '2000' } });
const posted = (i: number) => JSON.parse(rx.requests[i]!.body) as { format: string; v: number; checkpoints: unknown[] };

test('the checkpoints written are posted as stored, and verify with the public key', async () => {
  const ctx = withHook();
  const heads = await readChainHeads(ctx.prisma);
  await runAuditCheckpoint({ v: 1, at: at(5), heads }, ctx);
  const [req] = await rx.waitForRequests(1);
  assert.is(req!.method, 'POST');
  assert.is(req!.headers['content-type'], 'application/json');
  const body = posted(0);
  assert.is(body.format, 'bulwark-audit-checkpoints');
  assert.is(body.checkpoints.length, heads.length);
  for (const c of body.checkpoints) {
    const d = decodeCheckpoint(Buffer.from(JSON.stringify(c)));
    assert.ok(d.ok);
    if (!d.ok) continue;
    assert.is(checkSignature(d.doc, [h.signer.publicKey]), 'ok');
    const stored = await objectBytes(h.ctx.storage, checkpointKey(d.doc.tenant, d.doc.hour));
    assert.is(JSON.stringify(c), stored.toString().trim(), 'the same bytes as the stored object');
  }
  assert.is((await ctx.metrics.auditCheckpointWebhook.get()).values.find((v) => v.labels.result === 'sent')?.value, 1);
});

test('a 5xx is retried; checkpoints another run wrote are not posted again', async () => {
  rx.reset();
  const ctx = withHook();
  const heads = await readChainHeads(ctx.prisma);
  await runAuditCheckpoint({ v: 1, at: at(5), heads }, ctx);
  assert.is(rx.requests.length, 0, 'all existed: nothing to post');
  rx.next(replies.serverError);
  await runAuditCheckpoint({ v: 1, at: at(4), heads }, ctx);
  await rx.waitForRequests(2);
  assert.is(posted(1).checkpoints.length, heads.length);
});

test('a receiver that stays down: logged and counted, the job succeeds, the URL (and its token) appears nowhere', async () => {
  rx.reset();
  rx.always(replies.serverError);
  const ctx = withHook();
  const heads = await readChainHeads(ctx.prisma);
  const result = await runAuditCheckpoint({ v: 1, at: at(3), heads }, ctx);
  assert.is(result.written, heads.length, 'the store still has them');
  assert.is(rx.requests.length, 3, 'three attempts');
  const failed = h.logs.events().filter((e) => e.event === 'audit_checkpoints_webhook_failed');
  assert.is(failed.length, 1);
  assert.is(failed[0]!.error, 'HTTP 500');
  assert.not.match(h.logs.text(), TOKEN);
  assert.is(
    (await ctx.metrics.auditCheckpointWebhook.get()).values.find((v) => v.labels.result === 'failed')?.value,
    1,
  );
  rx.always(replies.ok);
});

test('a retried job posts what its earlier attempt wrote (the store failed half-way through the first)', async () => {
  rx.reset();
  const ctx = withHook();
  const heads = await readChainHeads(ctx.prisma);
  // The first attempt wrote one tenant's checkpoint, then the store failed (stood in for
  // by writing that one alone, without the webhook).
  await runAuditCheckpoint({ v: 1, at: at(2), heads: heads.slice(0, 1) }, h.ctx);
  await runAuditCheckpoint({ v: 1, at: at(2), heads }, ctx, { id: 'j1', attemptsMade: 1 });
  await rx.waitForRequests(1);
  const tenants = posted(0)
    .checkpoints.map((c) => (c as { tenant: string }).tenant)
    .sort();
  assert.equal(tenants, heads.map((x) => x.tenantId).sort());
  assert.is(hourOf(new Date(at(2))), (posted(0).checkpoints[0] as { hour: string }).hour);
});

test('a receiver that does not answer: the unreachable address is named by its error code', async () => {
  // A port nobody listens on (taken, then given back).
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const ctx = withHook(`http://127.0.0.1:${port}/hook`);
  const heads = await readChainHeads(ctx.prisma);
  await runAuditCheckpoint({ v: 1, at: at(1), heads }, ctx);
  const failed = h.logs.events().filter((e) => e.event === 'audit_checkpoints_webhook_failed');
  assert.is(failed.at(-1)!.error, 'ECONNREFUSED');
});

test.run();
