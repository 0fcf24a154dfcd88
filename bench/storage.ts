/**
 * `npm run bench:storage`: producer.objects.put against a raw `minio` putObject loop,
 * both on the same s3rver (a child process, as in the tests) in this one run, same
 * body size, same concurrency, alternating rounds so drift hits both alike. s3rver is
 * slow (a few hundred small PUTs per second here), so only the ratio means anything.
 * Sizes: BENCH_N objects per round (default 500), BENCH_BYTES per object (4096),
 * BENCH_CONCURRENCY calls in flight (8), BENCH_ROUNDS per side (3).
 * BENCH_STRICT=1 exits 1 when Bulwark reaches less than 0.8 of raw.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createStorage, ensureBuckets } from '../lib/clients/storage.js';
import { loadConfig } from '../lib/config.js';
import { createProducer } from '../producers/index.js';
import { startS3Server } from '../test/helpers/s3.js';
import { envInt, fmtInt, log, pool } from './util.js';

const N = envInt('BENCH_N', 500);
const BYTES = envInt('BENCH_BYTES', 4096);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 8);
const ROUNDS = envInt('BENCH_ROUNDS', 3);
const TARGET = 0.8;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return N / ((performance.now() - start) / 1000);
}

async function main(): Promise<number> {
  const s3 = await startS3Server();
  const storage = createStorage(loadConfig(s3.env).storage);
  const producer = createProducer({ queuePrefix: `bench-storage-${randomBytes(3).toString('hex')}`, storage });
  try {
    await ensureBuckets(storage);
    const body = randomBytes(BYTES);
    const tenant = randomUUID();
    const raw: number[] = [];
    const bulwark: number[] = [];
    log(
      `s3rver at ${s3.endpoint}; ${N} objects of ${BYTES} bytes per round, ${CONCURRENCY} in flight, ${ROUNDS} rounds per side`,
    );
    for (let round = 0; round < ROUNDS; round++) {
      // Raw: the same bucket, a key of the same shape, one putObject per object.
      raw.push(
        await timed(() =>
          pool(N, CONCURRENCY, async () => {
            await storage.client.putObject(
              storage.bucket,
              `raw/${tenant}/snapshots/raw/2026-12-06/${randomUUID()}.jpg`,
              body,
              body.length,
              { 'Content-Type': 'image/jpeg' },
            );
          }),
        ),
      );
      bulwark.push(
        await timed(() =>
          pool(N, CONCURRENCY, async () => {
            await producer.objects.put(tenant, 'snapshots/raw', body);
          }),
        ),
      );
      log(
        `round ${round + 1}: raw putObject ${fmtInt(raw.at(-1)!)} objects/s, producer.objects.put ${fmtInt(bulwark.at(-1)!)} objects/s`,
      );
    }
    const ratio = median(bulwark) / median(raw);
    log(`median: raw ${fmtInt(median(raw))} objects/s, producer.objects.put ${fmtInt(median(bulwark))} objects/s`);
    log(`ratio producer.objects.put / raw putObject: ${ratio.toFixed(2)} (target >= ${TARGET})`);
    return process.env.BENCH_STRICT === '1' && ratio < TARGET ? 1 : 0;
  } finally {
    await producer.close();
    await s3.stop();
  }
}

process.exitCode = await main();
