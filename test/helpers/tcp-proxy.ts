/**
 * A TCP proxy on loopback in front of a real service. block() drops every open
 * connection and refuses new ones, unblock() lets them through again: how tests make
 * the real Postgres or Redis "unreachable and then back" without stopping it.
 * setFilter() sees every chunk a client sends before it is forwarded and may hold it:
 * that connection is then frozen (nothing more of it is forwarded) until dropHeld()
 * closes it, so a test can stop one request (say an S3 multi-object delete) from ever
 * reaching the service, and know the client is waiting on it.
 */
import net from 'node:net';

/** Told each chunk a client sends, before it is forwarded: 'hold' freezes its connection. */
export type ProxyFilter = (chunk: Buffer) => 'pass' | 'hold';

export interface TcpProxy {
  port: number;
  block(): void;
  unblock(): void;
  setFilter(filter: ProxyFilter | undefined): void;
  /** Connections frozen by the filter, still open. */
  held(): number;
  /** Close every frozen connection: what it held never reaches the service. */
  dropHeld(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let blocked = false;
  let filter: ProxyFilter | undefined;
  const sockets = new Set<net.Socket>();
  const frozen = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const cleanup = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      frozen.delete(client);
    };
    client.on('error', cleanup).on('close', cleanup);
    upstream.on('error', cleanup).on('close', cleanup);
    client.on('data', (chunk: Buffer) => {
      if (frozen.has(client)) return;
      if (filter?.(chunk) === 'hold') {
        frozen.add(client);
        return;
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    block() {
      blocked = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    unblock() {
      blocked = false;
    },
    setFilter(f) {
      filter = f;
    },
    held: () => frozen.size,
    dropHeld() {
      for (const c of frozen) c.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The same URL with host and port replaced by the proxy's. */
export function viaProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}
