/**
 * Lua scripts as commands of a Redis connection, shared by the rate limiters and the
 * alert decision: a script's file is read and defined when a caller first asks for it
 * (never at import time), once per connection, and called by name, so ioredis sends
 * EVALSHA and falls back to EVAL by itself after a Redis restart.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './clients/redis.js';

export interface LuaScript {
  /** The command name on the connection; one name, one script, for the whole process. */
  name: string;
  /** The .lua file, e.g. `new URL('./x.lua', import.meta.url)`. */
  file: URL;
  /** Keys before the arguments. Default: none fixed (the first argument is the count). */
  numberOfKeys?: number;
}

/** Define `script` on `redis` unless it already is, and return a function calling it. */
export function defineScript<Args extends Array<string | number>, Reply>(
  redis: RedisClient,
  script: LuaScript,
): (...args: Args) => Promise<Reply> {
  if (!(script.name in redis)) {
    redis.defineCommand(
      script.name,
      script.numberOfKeys === undefined
        ? { lua: readFileSync(script.file, 'utf8') }
        : { numberOfKeys: script.numberOfKeys, lua: readFileSync(script.file, 'utf8') },
    );
  }
  const commands = redis as unknown as Record<string, (...args: Args) => Promise<Reply>>;
  return (...args) => commands[script.name]!(...args);
}

/**
 * Sorted-set member ids for a script's entries: the time, a random seed per caller and
 * a counter, so entries of the same millisecond never collide, in this process or
 * another.
 */
export function memberIds(): (now: number) => string {
  const seed = randomBytes(6).toString('hex');
  let counter = 0;
  return (now) => {
    counter = (counter + 1) % 1_000_000_000;
    return `${now}-${seed}-${counter}`;
  };
}
