/**
 * An object store for retention tests: a real s3rver of the file's own behind a TCP
 * proxy (block() makes it unreachable without losing its data), its buckets created,
 * and objects put in the tenant key layout at chosen times.
 */
import { createStorage, ensureBuckets, type Storage } from '../../lib/clients/storage.js';
import { loadConfig } from '../../lib/config.js';
import { objectKey } from '../../lib/storage/keys.js';
import { DAY_MS } from './retention.js';
import { startS3Server, type S3Server } from './s3.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export interface RetentionStore {
  s3: S3Server;
  proxy: TcpProxy;
  /** Through the proxy. */
  storage: Storage;
  /** S3_* variables pointing at the proxy. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startRetentionStore(): Promise<RetentionStore> {
  const s3 = await startS3Server();
  const proxy = await startTcpProxy('127.0.0.1', Number(new URL(s3.endpoint).port));
  const env = { ...s3.env, S3_ENDPOINT: `http://127.0.0.1:${proxy.port}` };
  const storage = createStorage(loadConfig(env).storage);
  await ensureBuckets(storage);
  return {
    s3,
    proxy,
    storage,
    env,
    stop: async () => {
      await proxy.close();
      await s3.stop();
    },
  };
}

/** Put `n` objects of a class made `days` days ago (ids `${tag}-${i}`, zero-padded), 8 at a time. Returns their keys, sorted. */
export async function putObjects(
  storage: Storage,
  tenantId: string,
  cls: 'snapshots/raw' | 'snapshots/annotated' | 'reports',
  days: number,
  n: number,
  tag = 'o',
  body = Buffer.from('x'.repeat(10)),
): Promise<string[]> {
  const at = new Date(Date.now() - days * DAY_MS);
  const keys = Array.from({ length: n }, (_, i) =>
    objectKey({ tenantId, class: cls, at, id: `${tag}-${String(i).padStart(6, '0')}` }),
  );
  for (let i = 0; i < keys.length; i += 8)
    await Promise.all(keys.slice(i, i + 8).map((k) => storage.client.putObject(storage.bucket, k, body, body.length)));
  return keys.sort();
}

/** Every key under a prefix. */
export async function listKeys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.client.listObjectsV2(storage.bucket, prefix, true) as AsyncIterable<{ name?: string }>)
    if (o.name) out.push(o.name);
  return out.sort();
}
