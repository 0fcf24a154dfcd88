/**
 * Requests that are not load: malformed inputs and auth attacks, each expected to be
 * refused with a 4xx in time. A probe answered 2xx or 5xx, or not answered within the
 * deadline (a connection reset included), is a finding.
 */
import { randomBytes } from 'node:crypto';

export interface Probe {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Besides a 4xx: what the answer's body must not say. */
  mustNotSay?: RegExp;
}

export interface ProbeResult {
  probe: Probe;
  status: number | 'timeout' | 'error';
  ms: number;
  finding?: string;
}

const good = { actorType: 'user', actorId: 'u-1', action: 'chaos:probe', resourceType: 'probe', resourceId: 'p-1' };
const json = { 'content-type': 'application/json' };

/** About 200 malformed requests against the audit routes (bodies, queries, paths), with a valid key. */
export function malformedProbes(key: string, bodyLimit = 1_048_576): Probe[] {
  const auth = { authorization: `Bearer ${key}` };
  const bodies: Array<[string, string | Buffer, Record<string, string>?]> = [
    ['truncated JSON', '{"actorType":"user"'],
    ['not JSON', 'actorType=user'],
    ['empty body', ''],
    ['JSON null', 'null'],
    ['JSON array', '[]'],
    ['JSON string', '"entry"'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ['text/plain', JSON.stringify(good), { 'content-type': 'text/plain' }],
    ['no content type', JSON.stringify(good), { 'content-type': '' }],
    [
      '__proto__ key',
      '{"actorType":"user","actorId":"u","action":"a:b","resourceType":"r","metadata":{"__proto__":{"x":1}}}',
    ],
    [
      'constructor.prototype',
      '{"actorType":"user","actorId":"u","action":"a:b","resourceType":"r","metadata":{"constructor":{"prototype":{"x":1}}}}',
    ],
    [
      'deep nesting',
      `{"actorType":"user","action":"a:b","resourceType":"r","metadata":${'{"a":'.repeat(4000)}1${'}'.repeat(4000)}}`,
    ],
    [
      'body limit + 1 byte',
      JSON.stringify({ ...good, metadata: { pad: 'x'.repeat(bodyLimit) } }).slice(0, bodyLimit + 1),
    ],
    ['10 MiB body', JSON.stringify({ ...good, metadata: { pad: 'x'.repeat(10 << 20) } })],
  ];
  const broken: Array<[string, Record<string, unknown>]> = [
    ...Object.keys(good)
      .filter((k) => k !== 'actorId' && k !== 'resourceId')
      .map((k): [string, Record<string, unknown>] => [`missing ${k}`, { ...good, [k]: undefined }]),
    ['actorType robot', { ...good, actorType: 'robot' }],
    ['actorType number', { ...good, actorType: 5 }],
    ['action 101 chars', { ...good, action: 'a'.repeat(101) }],
    ['actorId 256 chars', { ...good, actorId: 'a'.repeat(256) }],
    ['actorId NUL', { ...good, actorId: 'a\u0000b' }],
    ['actorId lone surrogate', { ...good, actorId: 'a\ud800b' }],
    ['resourceId object', { ...good, resourceId: { a: 1 } }],
    ['tenantId not a UUID', { ...good, tenantId: 'acme' }],
    ['tenantId of another tenant', { ...good, tenantId: '11111111-1111-4111-8111-111111111111' }],
    ['ai without reason', { ...good, actorType: 'ai', confidence: 0.5 }],
    ['confidence 2', { ...good, actorType: 'ai', reason: 'r', confidence: 2 }],
    ['occurredAt yesterday', { ...good, occurredAt: 'yesterday' }],
    ['severity urgent', { ...good, action: 'security:x', severity: 'urgent' }],
    ['eventId 129 chars', { ...good, eventId: 'e'.repeat(129) }],
    ['ip not an address', { ...good, ip: 'localhost' }],
    ['unknown field', { ...good, colour: 'red' }],
    ['metadata array', { ...good, metadata: [1, 2] }],
    ['requestId 129 chars', { ...good, requestId: 'r'.repeat(129) }],
  ];
  const probes: Probe[] = [];
  for (const [name, body, headers] of bodies)
    probes.push({
      name: `POST /v1/audit ${name}`,
      method: 'POST',
      path: '/v1/audit',
      headers: { ...json, ...auth, ...headers },
      body,
    });
  for (const [name, entry] of broken) {
    probes.push({
      name: `POST /v1/audit ${name}`,
      method: 'POST',
      path: '/v1/audit',
      headers: { ...json, ...auth },
      body: JSON.stringify(entry),
    });
    probes.push({
      name: `POST /v1/audit/batch ${name}`,
      method: 'POST',
      path: '/v1/audit/batch',
      headers: { ...json, ...auth },
      body: JSON.stringify({ entries: [good, entry] }),
    });
    probes.push({
      name: `POST /v1/audit/batch ${name} (alone)`,
      method: 'POST',
      path: '/v1/audit/batch',
      headers: { ...json, ...auth },
      body: JSON.stringify({ entries: [entry] }),
    });
  }
  for (const [name, body] of [
    ['batch empty', { entries: [] }],
    ['batch of 1001', { entries: Array.from({ length: 1001 }, () => good) }],
    ['batch extra field', { entries: [good], colour: 'red' }],
    ['batch entries object', { entries: good }],
  ] as const)
    probes.push({
      name: `POST /v1/audit/batch ${name}`,
      method: 'POST',
      path: '/v1/audit/batch',
      headers: { ...json, ...auth },
      body: JSON.stringify(body),
    });
  for (const query of [
    'actorId=%ff%fe',
    'actorId=%C0%AF',
    'actorId=%',
    'actorId=a%00b',
    'limit=abc',
    'limit=0',
    'limit=201',
    'since=yesterday',
    'until=2024-03-01T10:00:00',
    'cursor=abc',
    'colour=red',
    'actorId=a&actorId=b',
    `action=${'a'.repeat(101)}`,
    'actorType=robot',
  ]) {
    probes.push({
      name: `GET /v1/audit?${query.slice(0, 40)}`,
      method: 'GET',
      path: `/v1/audit?${query}`,
      headers: auth,
    });
  }
  for (const path of [
    '/admin/queues/../../../etc/passwd',
    '/admin/queues/%2e%2e/%2e%2e/etc/passwd',
    '/admin/queues/api/queues/..%2f..%2f..%2fetc%2fpasswd',
  ]) {
    probes.push({
      name: `traversal ${path}`,
      method: 'GET',
      path,
      headers: { authorization: `Basic ${Buffer.from('x:y').toString('base64')}` },
      mustNotSay: /internal server error/i,
    });
  }
  return probes;
}

const b64url = (n: number) => randomBytes(n).toString('base64url').slice(0, n);

/** One request of an auth attack: a random well-formed key, a malformed one, none, a wrong scheme, or wrong operator credentials. */
export function attackProbe(i: number): Probe {
  const body = JSON.stringify(good);
  switch (i % 5) {
    case 0:
    case 1:
      return {
        name: 'unknown key',
        method: 'POST',
        path: '/v1/audit',
        headers: { ...json, authorization: `Bearer bwk_${b64url(43)}` },
        body,
      };
    case 2:
      return {
        name: 'malformed key',
        method: 'POST',
        path: '/v1/audit',
        headers: { ...json, 'x-api-key': `key-${b64url(12)}` },
        body,
      };
    case 3:
      return { name: 'no key', method: 'GET', path: '/v1/audit', headers: {} };
    default:
      return {
        name: 'bad operator password',
        method: 'POST',
        path: '/v1/tenants',
        headers: { ...json, authorization: `Basic ${Buffer.from(`admin:${b64url(10)}`).toString('base64')}` },
        body: '{"name":"x"}',
      };
  }
}

export async function sendProbe(url: string, probe: Probe, deadlineMs: number): Promise<ProbeResult> {
  const t0 = Date.now();
  try {
    const headers = Object.fromEntries(Object.entries(probe.headers ?? {}).filter(([, v]) => v !== ''));
    const res = await fetch(`${url}${probe.path}`, {
      method: probe.method,
      headers,
      body: probe.body,
      signal: AbortSignal.timeout(deadlineMs),
    });
    const text = await res.text();
    const ms = Date.now() - t0;
    let finding: string | undefined;
    if (res.status < 400) finding = `accepted (${res.status})`;
    else if (res.status >= 500) finding = `${res.status}`;
    else if (probe.mustNotSay?.test(text)) finding = `${res.status} saying ${probe.mustNotSay}`;
    return { probe, status: res.status, ms, ...(finding ? { finding } : {}) };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const timeout = e.name === 'TimeoutError' || e.name === 'AbortError';
    return {
      probe,
      status: timeout ? 'timeout' : 'error',
      ms: Date.now() - t0,
      finding: timeout ? 'no answer in time' : `connection ${e.cause?.code ?? e.message}`,
    };
  }
}
