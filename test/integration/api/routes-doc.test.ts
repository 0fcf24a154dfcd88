// docs/api.md (and README's HTTP endpoints table) against the routes the running
// server registers, read from the Fastify instance startBulwark builds: every route is
// documented, every documented route exists, and each /v1 route wants the scope (or the
// operator's credentials) its heading in api.md names.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createApiKey } from '../../../lib/apikeys/records.js';
import { SCOPES } from '../../../lib/apikeys/keys.js';
import { DIGEST_WINDOW_MS } from '../../../api/denial-digest.js';
import { startApi, type ApiHarness } from '../../helpers/api.js';

const apiDoc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const BULL_BOARD = '/admin/queues';

/** api.md's routes: each "### `METHOD /path`, …" heading, with what it says it needs, and the operator surfaces. */
const documented = (() => {
  const routes = new Map<string, { needs: string }>();
  for (const m of apiDoc.matchAll(/^### (.+)$/gm)) {
    const heading = m[1]!;
    const needs = /— (?:scope `([^`]+)`|(operator credentials))$/.exec(heading);
    for (const r of heading.matchAll(/`(GET|POST|PATCH|PUT|DELETE) (\/[^`\s]*)`/g))
      routes.set(`${r[1]} ${r[2]}`, { needs: needs?.[1] ?? needs?.[2] ?? 'none' });
  }
  const start = apiDoc.indexOf('### Operator surfaces');
  assert.ok(start >= 0, 'docs/api.md has "### Operator surfaces"');
  for (const m of apiDoc.slice(start, apiDoc.indexOf('\n## ', start)).matchAll(/^- `(?:(GET|POST) )?(\/[^`\s]*)`/gm))
    routes.set(m[1] ? `${m[1]} ${m[2]}` : m[2]!, { needs: 'none' });
  return routes;
})();

/** README's "HTTP endpoints" table: `GET /healthz`, `/v1/…`, `/admin/queues`. */
const readmeEndpoints = (() => {
  const start = readme.indexOf('\n## HTTP endpoints');
  assert.ok(start >= 0, 'README has "## HTTP endpoints"');
  return [...readme.slice(start, readme.indexOf('\n## ', start + 1)).matchAll(/^\| `((?:[A-Z]+ )?\/[^`]*)` \|/gm)].map(
    (m) => m[1]!,
  );
})();

/**
 * "METHOD /url" of every registered route, read from Fastify's route tree
 * (`printRoutes({ commonPrefix: false })`: one line per node, its URL piece after
 * `├── `/`└── `, four columns deeper per level, its methods in parentheses; a node's
 * routes with other constraints on lines of their own, below it).
 */
function registered(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const node = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\)(?: \{.*)?)?$/.exec(line);
    const more = /^[│ ]* \(([A-Z, ]+)\)/.exec(line);
    let methods: string | undefined;
    if (node) {
      stack.length = [...node[1]!].length / 4;
      stack.push(node[2] === '(empty root node)' ? '' : node[2]!);
      methods = node[3];
    } else if (more) methods = more[1];
    if (methods) for (const method of methods.split(', ')) out.push(`${method} ${stack.join('')}`);
  }
  return [...new Set(out)];
}

let api: ApiHarness;
let routes: string[];
let tenantId: string;

// The check below is refused on purpose a few times per route: one source may be refused
// at most SOURCE_DENIAL_LIMIT times a minute before it gets 429, so the clock moves past that minute
// between routes.
let clockOffsetMs = 0;

test.before(async () => {
  api = await startApi({}, (c) => c, { clock: () => new Date(Date.now() + clockOffsetMs) });
  tenantId = (await api.tenant('routes-doc')).id;
  assert.ok(api.bulwark.http, 'the HTTP server runs');
  routes = registered(api.bulwark.http!.printRoutes({ commonPrefix: false }));
});
test.after(async () => api?.close());

test('api routes doc: the server registers routes, and api.md documents some', () => {
  assert.ok(routes.length > 10, `routes read from the server: ${routes.join('; ')}`);
  assert.ok(routes.includes('GET /healthz'), routes.join('; '));
  assert.ok(documented.size >= 10, [...documented.keys()].join('; '));
});

test('api routes doc: every registered route is in docs/api.md (HEAD of a GET aside, Bull Board by its mount)', () => {
  const undocumented = routes.filter((r) => {
    const [method, url] = r.split(' ') as [string, string];
    if (method === 'HEAD' && routes.includes(`GET ${url}`)) return false;
    if (url === BULL_BOARD || url.startsWith(`${BULL_BOARD}/`)) return !documented.has(BULL_BOARD);
    return !documented.has(r);
  });
  assert.equal(undocumented, [], 'registered but not in docs/api.md');
});

test('api routes doc: every route api.md and README document is registered', () => {
  const app = api.bulwark.http!;
  const exists = (route: string) => {
    const [method, url] = route.includes(' ') ? (route.split(' ') as [string, string]) : [undefined, route];
    if (url === BULL_BOARD)
      return app.hasRoute({ method: 'GET', url }) || routes.some((r) => r.split(' ')[1]!.startsWith(`${BULL_BOARD}/`));
    // README's `/v1/…` row stands for the API: some route under /v1/.
    if (url === '/v1/…') return routes.some((r) => r.split(' ')[1]!.startsWith('/v1/'));
    return app.hasRoute({ method: method as 'GET', url });
  };
  const missing = [...documented.keys(), ...readmeEndpoints].filter((r) => !exists(r));
  assert.equal(missing, [], 'documented but not registered');
  assert.ok(readmeEndpoints.length >= 5, readmeEndpoints.join('; '));
});

test('api routes doc: each /v1 route needs the scope, or the operator credentials, its heading names', async () => {
  const keys = new Map<string, string>();
  for (const scope of SCOPES) {
    const { key } = await createApiKey(
      api.bulwark.ctx.prisma,
      { tenantId, name: `only-${scope}`, scopes: [scope] },
      { type: 'user', id: 'test' },
    );
    keys.set(scope, key);
  }
  const v1 = [...documented].filter(([r]) => r.includes(' /v1/'));
  assert.ok(v1.length >= 9);
  for (const [route, { needs }] of v1) {
    clockOffsetMs += DIGEST_WINDOW_MS + 1000;
    const [method, path] = route.split(' ') as [string, string];
    const url = path.replace(':name', 'no-such-channel');
    const body = method === 'GET' || method === 'DELETE' ? undefined : {};
    if (needs === 'operator credentials') {
      const res = await api.call(method, url, { key: keys.get('admin'), body });
      assert.is(res.status, 401, `${route} refuses an admin key`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/, `${route} asks for Basic credentials`);
      continue;
    }
    assert.ok((SCOPES as readonly string[]).includes(needs), `${route}: api.md names the scope "${needs}"`);
    // A key with any other single scope is refused, naming the scope the heading names.
    for (const [scope, key] of keys) {
      const res = await api.call(method, url, { key, body });
      const text = await res.text();
      if (scope === needs || scope === 'admin') {
        assert.ok(res.status !== 401 && res.status !== 403, `${route} with a ${scope} key: ${res.status} ${text}`);
      } else {
        assert.is(res.status, 403, `${route} with a ${scope} key: ${text}`);
        assert.match(text, `lacks the ${needs} scope`, route);
      }
    }
  }
});

test.run();
