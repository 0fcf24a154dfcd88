/**
 * A Postgres connection that dies (server restart, failover, pg_terminate_backend, a
 * network cut) must cost at most the statement it was running, never the process.
 *
 * node-postgres emits 'error' on a Client whose connection ends unexpectedly, even
 * after the running query has already rejected with the same cause. An EventEmitter's
 * 'error' with no listener is thrown, and pg-pool removes its own listener from a client
 * while it is checked out: a connection killed in the middle of a group commit took
 * `bulwark start` down with "Unhandled 'error' event … Connection terminated
 * unexpectedly" (issue 15). Every client therefore gets a listener of its own for its
 * whole life: the failure still reaches the caller through the rejected query (the
 * job retries, the request gets 503), and the broken client is discarded by the pool.
 */
import type pg from 'pg';

/** Called once per connection lost; `inUse` is true when it was checked out at the time. */
export type ConnectionLostHandler = (err: Error, inUse: boolean) => void;

/** Keep a standalone Client's connection loss from being thrown; its queries still fail. */
export function survivesConnectionLoss<C extends pg.Client | pg.PoolClient>(client: C, onLost: ConnectionLostHandler = () => undefined): C {
  let reported = false;
  client.on('error', (err: Error) => {
    if (reported) return;
    reported = true;
    onLost(err, true);
  });
  return client;
}

/**
 * Every client `pool` opens gets the listener as soon as it has connected, before it is
 * first handed out. The pool's own 'error' event (a client lost while idle) is then
 * redundant and is only kept from being thrown.
 */
export function poolSurvivesConnectionLoss(pool: pg.Pool, onLost: ConnectionLostHandler = () => undefined): pg.Pool {
  const checkedOut = new WeakSet<pg.PoolClient>();
  pool.on('acquire', (client) => void checkedOut.add(client));
  pool.on('release', (_err, client) => void checkedOut.delete(client));
  pool.on('connect', (client) => {
    let reported = false;
    client.on('error', (err: Error) => {
      if (reported) return;
      reported = true;
      onLost(err, checkedOut.has(client));
    });
  });
  pool.on('error', () => undefined);
  return pool;
}
