/**
 * Where Redis is: one server (REDIS_URL), a Redis Cluster (REDIS_CLUSTER_NODES) or a
 * master watched by Redis Sentinel (REDIS_SENTINELS). Parsed with the rest of the
 * configuration (lib/config.ts); lib/clients/redis.ts builds the client from it.
 *
 * Key names (docs/redis-cluster.md). A Redis Cluster refuses a script or MULTI whose
 * keys live in different slots, and BullMQ's scripts and flows touch several keys of a
 * queue, and of the queues a flow joins, at once. So with a cluster every BullMQ key
 * shares one hash tag, the queue prefix in braces (`{bulwark}:audit-write:…`, as
 * BullMQ documents), and Bulwark's own keys that a script or command takes together
 * share the tenant's tag (`bulwark:alert:{tenant}:…`). One server and Sentinel keep
 * the names they always had: nothing changes for them.
 */
import { z } from 'zod';

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

export type RedisTopology =
  | { readonly mode: 'single' }
  | { readonly mode: 'cluster'; readonly nodes: readonly RedisNode[] }
  | {
      readonly mode: 'sentinel';
      readonly sentinels: readonly RedisNode[];
      /** The master group name the sentinels monitor. */
      readonly masterName: string;
      /** Password of the sentinels themselves (the data nodes' is REDIS_URL's). Never log it. */
      readonly sentinelPassword: string | undefined;
    };

/** `host:port` or `[v6]:port`; the port 1-65535. Undefined when it is neither. */
export function parseNode(text: string): RedisNode | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/** A comma-separated list of at least one `host:port`, each checked, into nodes. */
export const nodeList = z.string().transform((value, ctx) => {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const nodes: RedisNode[] = [];
  for (const part of parts) {
    const node = parseNode(part);
    if (node) nodes.push(node);
    // The part is a host and port, no secret: it is safe to name.
    else ctx.addIssue({ code: 'custom', message: `"${part.slice(0, 100)}" is not host:port (e.g. 10.0.0.5:6379)` });
  }
  if (parts.length === 0) ctx.addIssue({ code: 'custom', message: 'must list at least one host:port' });
  return nodes;
});

/**
 * The BullMQ prefix for a topology: the configured prefix, in braces with a cluster so
 * that every queue's keys, and the keys of the queues a flow joins, share one slot.
 */
export function queuePrefixFor(prefix: string, topology: Pick<RedisTopology, 'mode'>): string {
  return topology.mode === 'cluster' && !hasHashTag(prefix) ? `{${prefix}}` : prefix;
}

/** Whether `key` carries a Redis Cluster hash tag (a non-empty `{…}`). */
export function hasHashTag(key: string): boolean {
  return /\{[^}]+\}/.test(key);
}

/** The user, password, TLS and database of a redis:// or rediss:// URL, for clients not built from the URL itself. */
export function urlCredentials(redisUrl: string): {
  username?: string;
  password?: string;
  tls?: object;
  db: number;
} {
  const u = new URL(redisUrl);
  const db = Number(u.pathname.replace(/^\//, '') || '0');
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    db: Number.isSafeInteger(db) ? db : 0,
  };
}
