// The short run of the fault-injection harness (chaos/, docs/reliability.md): every fault
// once under a few seconds of load, against a private Redis and Postgres. It fails on a
// lost or duplicated acknowledged entry, a broken chain, a process that died, a request
// unanswered within the bound or a 5xx other than 503.
//
// Skipped unless CHAOS_TEST=1: it takes about four minutes (give the file the time:
// `CHAOS_TEST=1 TEST_FILE_TIMEOUT_MS=600000 npm test -- chaos-short`), and until the
// outage fixes of issue 15 (defects 1-9) are all in, some of its scenarios fail by design.
import { test } from 'uvu';
import * as assert from 'uvu/assert';

process.env.CHAOS_SHORT = '1';
const enabled = process.env.CHAOS_TEST === '1';

(enabled ? test : test.skip)('short chaos run: every scenario passes', async () => {
  const { runChaos } = await import('../../../chaos/main.js');
  const { details } = await import('../../../chaos/report.js');
  const { outcomes, table } = await runChaos();
  console.log(`${table}\n\n${details(outcomes)}`);
  assert.equal(
    outcomes.filter((o) => o.failures.length).map((o) => `${o.name}: ${o.failures.join('; ')}`),
    [],
  );
});

test.run();
