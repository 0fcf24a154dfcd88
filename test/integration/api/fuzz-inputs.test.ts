// What test/integration/api/fuzz.test.ts found, each pinned by a request of its own
// (the fuzz draws its cases at random, so a seed may not hit them): a body that is not
// UTF-8 was accepted with U+FFFD in place of its bytes; requests Node's HTTP parser
// refuses were answered in Fastify's shape without the security headers; a channel
// target with a NUL was a 500 and with a lone surrogate was stored altered; a channel
// body's own requestId was silently dropped; cursors past bigint or Date were 500s; an
// alert label name with a NUL was a 202 whose job then failed at every attempt; and a
// trusted proxy's X-Forwarded-For that is not an address made denials unaudited 400s.
// Real server, Redis and Postgres.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { Queue } from 'bullmq';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { requireMasterKeys } from '../../../lib/config.js';
import { ALERT_QUEUE } from '../../../lib/contracts/alert.js';
import { AUDIT_WRITE_QUEUE } from '../../../lib/contracts/audit.js';
import { setSecret } from '../../../lib/secrets/secrets.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';
import { superuserQuery } from '../../helpers/db.js';
import { waitFor } from '../../helpers/env.js';
import { queueIdle } from '../../helpers/queues.js';

let api: ApiHarness;
let tenant: { id: string; adminKey: string };
let audits: Queue;
let alerts: Queue;
const entry = { actorType: 'user', actorId: 'u-1', action: 'task:completed', resourceType: 'task', resourceId: 't-1' };

test.before(async () => {
  // TLS on: X-Forwarded-For from loopback (a trusted proxy) is believed.
  api = await startApi({ TLS_ENABLED: 'true' });
  tenant = await api.tenant('fuzz-findings');
  await setSecret(
    api.bulwark.ctx.prisma,
    requireMasterKeys(api.bulwark.ctx.config),
    { tenantId: tenant.id, name: 'hook', value: 'findings-secret' },
    { type: 'user', id: 't' },
  );
  const { redis, config } = api.bulwark.ctx;
  audits = new Queue(AUDIT_WRITE_QUEUE, { connection: redis, prefix: config.queuePrefix });
  alerts = new Queue(ALERT_QUEUE, { connection: redis, prefix: config.queuePrefix });
});
test.after(async () => {
  await audits?.close();
  await alerts?.close();
  await api?.close();
});

type ErrorBody = { error: { code: string; message: string; fields?: Array<{ path: string; message: string }> } };
const errorOf = async (res: Response) => ({ status: res.status, body: (await res.json()) as ErrorBody });
/**
 * Jobs in `q`, but for the key-use bookkeeping: a key's first request of the hour leads to
 * an `apikey:used` entry flushed on its own timer (about 5 s later), which on a busy
 * machine lands in the middle of a later test and is no input of it.
 */
const jobCount = async (q: Queue) => {
  const jobs = await q.getJobs(
    ['waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'waiting-children'],
    0,
    -1,
  );
  const keyUseOnly = (data: unknown) => {
    const entries = (data as { entries?: Array<{ action?: string }> } | undefined)?.entries;
    return Array.isArray(entries) && entries.length > 0 && entries.every((e) => e.action === 'apikey:used');
  };
  return jobs.filter((j) => !keyUseOnly(j.data)).length;
};

test('a body that is not UTF-8 is a 400 naming UTF-8, and nothing is enqueued; valid multi-byte text arrives intact', async () => {
  const before = await jobCount(audits);
  for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
    const body = Buffer.concat([
      Buffer.from(JSON.stringify({ ...entry, reason: 'a' }).replace('"a"', '"a')),
      Buffer.from(bad),
      Buffer.from('"}'),
    ]);
    const e = await errorOf(
      await fetch(`${api.url}/v1/audit`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tenant.adminKey}`, 'content-type': 'application/json' },
        body,
      }),
    );
    assert.equal([e.status, e.body.error.code], [400, 'invalid_json'], JSON.stringify(e));
    assert.match(e.body.error.message, /UTF-8/);
  }
  assert.is(await jobCount(audits), before, 'nothing enqueued');
  const reason = 'Grüße € 😀';
  const ok = await fetch(`${api.url}/v1/audit`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.adminKey}`, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ ...entry, reason })),
  });
  assert.is(ok.status, 202);
  const { eventId } = (await ok.json()) as { eventId: string };
  await queueIdle(audits);
  const rows = await superuserQuery(api.db.url, 'SELECT reason FROM audit_log WHERE event_id = $1', [eventId]);
  assert.is(rows.rows[0]?.reason, reason);
});

/** Raw bytes on a connection of their own; the answer's status, headers and body. */
function raw(text: string): Promise<{ status: number; headers: Map<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(api.url).port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('utf8');
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no answer: ${all}`));
      const [status, ...lines] = all.slice(0, end).split('\r\n');
      resolve({
        status: Number(status!.split(' ')[1]),
        headers: new Map(
          lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
        ),
        body: all.slice(end + 4),
      });
    });
    socket.write(Buffer.from(text, 'latin1'));
  });
}

test("requests the HTTP parser refuses are answered in the API's shape, with the security headers and a request id", async () => {
  const host = 'Host: 127.0.0.1\r\n';
  const cases: Array<[string, number, RegExp]> = [
    [`GET /v1/audit HTTP/1.1\r\n${host}X-API-Key: bwk_\u0000x\r\n\r\n`, 400, /not valid HTTP\/1\.1: .*header/i],
    [`FOO /v1/audit HTTP/1.1\r\n${host}\r\n`, 400, /not valid HTTP\/1\.1: .*method/i],
    [
      `POST /v1/audit HTTP/1.1\r\n${host}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      400,
      /not valid HTTP\/1\.1/,
    ],
    [
      `GET /v1/audit HTTP/1.1\r\n${host}X-Pad: ${'p'.repeat(20_000)}\r\n\r\n`,
      431,
      /headers are larger than the server accepts/,
    ],
  ];
  for (const [request, status, message] of cases) {
    const r = await raw(request);
    assert.is(r.status, status, r.body);
    assert.equal(JSON.parse(r.body), {
      error: { code: 'bad_request', message: (JSON.parse(r.body) as ErrorBody).error.message },
    });
    assert.match((JSON.parse(r.body) as ErrorBody).error.message, message);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    for (const h of [
      'x-content-type-options',
      'x-frame-options',
      'content-security-policy',
      'referrer-policy',
      'strict-transport-security',
    ])
      assert.ok(r.headers.get(h), `${h} on a ${status}`);
  }
});

test('a channel target with a NUL or a lone surrogate is a 400 naming target; a requestId in a channel body is an unknown field', async () => {
  const channel = { name: 'ops', type: 'slack', target: '#ops', secretRef: 'secret://hook' };
  for (const target of ['a\u0000b', '#ops\ud800']) {
    const e = await errorOf(
      await api.call('POST', '/v1/channels', { key: tenant.adminKey, body: { ...channel, target } }),
    );
    assert.equal([e.status, e.body.error.fields?.map((f) => f.path)], [400, ['target']], JSON.stringify(e));
  }
  const e = await errorOf(
    await api.call('POST', '/v1/channels', { key: tenant.adminKey, body: { ...channel, requestId: 'r-1' } }),
  );
  assert.equal([e.status, e.body.error.fields], [400, [{ path: 'requestId', message: 'is not a known field' }]]);
  assert.is(
    (
      await superuserQuery(api.db.url, 'SELECT count(*)::int AS n FROM alert_channels WHERE tenant_id = $1', [
        tenant.id,
      ])
    ).rows[0].n,
    0,
  );
  assert.is(
    (await api.call('POST', '/v1/channels', { key: tenant.adminKey, body: channel })).status,
    201,
    'the same channel without them is fine',
  );
});

test('list cursors beyond what the database or a Date holds are 400s naming cursor, not 500s', async () => {
  const cases = [
    '/v1/audit?cursor=9223372036854775808',
    '/v1/audit?cursor=9999999999999999999',
    '/v1/audit?cursor=abc',
    '/v1/audit?cursor=',
    '/v1/alerts?cursor=8640000000000001%7C00000000-0000-4000-8000-000000000000',
    '/v1/alerts?cursor=99999999999999999999%7C00000000-0000-4000-8000-000000000000',
    '/v1/alerts?cursor=1%7C------------------------------------',
  ];
  for (const path of cases) {
    const e = await errorOf(await api.call('GET', path, { key: tenant.adminKey }));
    assert.equal(
      [e.status, e.body.error.fields],
      [400, [{ path: 'cursor', message: 'must be a cursor returned by an earlier page' }]],
      path,
    );
  }
  // The largest of each is still a cursor.
  assert.is((await api.call('GET', '/v1/audit?cursor=9223372036854775807', { key: tenant.adminKey })).status, 200);
  assert.is(
    (
      await api.call('GET', '/v1/alerts?cursor=8640000000000000%7C00000000-0000-4000-8000-000000000000', {
        key: tenant.adminKey,
      })
    ).status,
    200,
  );
});

test('an alert label name with a NUL or a lone surrogate is a 400 (it was a 202 whose job failed forever); a long one is said in words', async () => {
  const alert = { type: 'disk.full', severity: 'info', title: 'x' };
  const before = await jobCount(alerts);
  for (const name of ['a\u0000', '\ud800', 'ok\udfff']) {
    const e = await errorOf(
      await api.call('POST', '/v1/alerts', { key: tenant.adminKey, body: { ...alert, labels: { [name]: 'v' } } }),
    );
    assert.equal(
      [e.status, e.body.error.fields],
      [400, [{ path: 'labels', message: 'has a label name with a NUL character or an unpaired surrogate' }]],
      JSON.stringify(e),
    );
  }
  const long = 'k'.repeat(65);
  const e = await errorOf(
    await api.call('POST', '/v1/alerts', { key: tenant.adminKey, body: { ...alert, labels: { [long]: 'v' } } }),
  );
  assert.equal(e.body.error.fields, [{ path: `labels.${long}`, message: 'is a label name longer than 64 characters' }]);
  assert.is(await jobCount(alerts), before, 'nothing enqueued');
  assert.is(
    (
      await api.call('POST', '/v1/alerts', {
        key: tenant.adminKey,
        body: { ...alert, labels: { ['k'.repeat(64)]: 'v', Grüße: 'ü' } },
      })
    ).status,
    202,
  );
});

test('an instant in year 0 (or past 9999) is a 400 naming it; it was a 202 whose audit job failed at every attempt, and a 500 as a query', async () => {
  const before = await jobCount(audits);
  for (const occurredAt of ['0000-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-05:00']) {
    for (const [path, body, field] of [
      ['/v1/audit', { ...entry, occurredAt }, 'occurredAt'],
      ['/v1/audit/batch', { entries: [entry, { ...entry, occurredAt }] }, '1.occurredAt'],
      ['/v1/alerts', { type: 't', severity: 'info', title: 'x', occurredAt }, 'occurredAt'],
    ] as const) {
      const e = await errorOf(await api.call('POST', path, { key: tenant.adminKey, body }));
      assert.equal(
        [e.status, e.body.error.fields],
        [400, [{ path: field, message: 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z' }]],
        `${path} ${occurredAt}`,
      );
    }
    for (const path of [
      `/v1/audit?since=${encodeURIComponent(occurredAt)}`,
      `/v1/audit?until=${encodeURIComponent(occurredAt)}`,
      `/v1/alerts?since=${encodeURIComponent(occurredAt)}`,
    ]) {
      const e = await errorOf(await api.call('GET', path, { key: tenant.adminKey }));
      assert.equal(
        [e.status, e.body.error.fields?.map((f) => f.path)],
        [400, [path.includes('until') ? 'until' : 'since']],
        path,
      );
    }
  }
  assert.is(await jobCount(audits), before, 'nothing enqueued');
  const first = await api.call('POST', '/v1/audit', {
    key: tenant.adminKey,
    body: { ...entry, occurredAt: '0001-01-01T00:00:00Z', resourceId: 'year-1' },
  });
  assert.is(first.status, 202);
  await queueIdle(audits);
  assert.is((await audits.getFailed()).length, 0);
  const row = await superuserQuery(api.db.url, `SELECT occurred_at FROM audit_log WHERE resource_id = 'year-1'`);
  assert.is((row.rows[0]?.occurred_at as Date).toISOString(), '0001-01-01T00:00:00.000Z');
  assert.is(
    (
      await api.call('GET', '/v1/audit?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59.999Z', {
        key: tenant.adminKey,
      })
    ).status,
    200,
  );
});

test("a trusted proxy's X-Forwarded-For that is not an address: the denial is refused as usual and audited, the value in metadata.ipUnparsed", async () => {
  const reader = (
    await createApiKey(
      api.bulwark.ctx.prisma,
      { tenantId: tenant.id, name: 'reader', scopes: ['audit:read'] },
      { type: 'user', id: 't' },
    )
  ).key;
  for (const [i, forwarded] of ['garbage', '999.1.1.1', '1.2.3.4, junk', 'fe80::1%eth0'].entries()) {
    const requestId = `xff-${i}`;
    const res = await api.call('POST', '/v1/audit', {
      key: reader,
      body: entry,
      headers: { 'x-forwarded-for': forwarded, 'x-request-id': requestId },
    });
    assert.equal([res.status, ((await res.json()) as ErrorBody).error.code], [403, 'forbidden'], forwarded);
    const row = await waitFor(
      async () =>
        (
          await superuserQuery(
            api.db.url,
            `SELECT ip, metadata->>'ipUnparsed' AS unparsed FROM audit_entries WHERE action = 'security:api-key-denied' AND request_id = $1`,
            [requestId],
          )
        ).rows[0] as { ip: string | null; unparsed: string | null } | undefined,
      `the denial of ${forwarded}`,
    );
    // The address the proxy forwarded (the rightmost of the list), or what came instead of one.
    const expected = {
      garbage: [null, 'garbage'],
      '999.1.1.1': [null, '999.1.1.1'],
      '1.2.3.4, junk': [null, 'junk'],
      'fe80::1%eth0': ['fe80::1', null],
    }[forwarded];
    assert.equal([row.ip, row.unparsed], expected, forwarded);
  }
});

test.run();
