// lazyChild: a per-request child logger that costs nothing until it writes, and then
// writes exactly what a real pino child would (bindings merged, level honoured,
// secrets in bindings redacted).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lazyChild } from '../../lib/lazy-logger.js';
import { createLogger } from '../../lib/logger.js';
import { captureLogs } from '../helpers/env.js';

async function settle(log: { flush(): void }): Promise<void> {
  log.flush();
  await new Promise((r) => setImmediate(r));
}

test('no child is built while nothing is logged at an enabled level', () => {
  const root = createLogger({ env: 'dev', logLevel: 'warn' }, captureLogs().stream);
  let built = 0;
  const child = root.child.bind(root);
  root.child = ((b: Record<string, unknown>, o?: object) => (built++, child(b, o))) as typeof root.child;
  const lazy = lazyChild(root, { request_id: 'r1' }).child({ tenant_id: 't1' });
  lazy.info('not at warn');
  lazy.debug('nor this');
  assert.is(built, 0);
  lazy.warn('now');
  assert.is(built, 1, 'one real child, with the merged bindings, not a chain');
});

test('lines carry the merged bindings; later bindings win; secrets in bindings are redacted', async () => {
  const logs = captureLogs();
  const root = createLogger({ env: 'dev', logLevel: 'info' }, logs.stream);
  const lazy = lazyChild(root, { request_id: 'r1', tenant_id: 'old' }).child({
    tenant_id: 't1',
    apiKey: 'bwk_secret_value',
  });
  lazy.info({ event: 'x' }, 'hello');
  await settle(root);
  const [line] = logs.events();
  assert.equal([line!.request_id, line!.tenant_id, line!.event, line!.msg], ['r1', 't1', 'x', 'hello']);
  assert.not.match(logs.text(), 'bwk_secret_value');
});

test('a level option applies to the child as it would in pino, and can be changed', async () => {
  const logs = captureLogs();
  const root = createLogger({ env: 'dev', logLevel: 'info' }, logs.stream);
  const quiet = lazyChild(root, { request_id: 'r2' }, { level: 'warn' });
  quiet.info('dropped');
  quiet.error('kept');
  quiet.level = 'silent';
  quiet.fatal('dropped too');
  assert.is(quiet.level, 'silent');
  await settle(root);
  assert.equal(
    logs.events().map((l) => l.msg),
    ['kept'],
  );
});

test.run();
