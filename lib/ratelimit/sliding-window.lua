--[[
  Sliding-log rate limit: admit a hit only if fewer than `limit` hits lie within the
  last `window_ms`. One script, so the check and the insert are atomic: a burst of
  2×limit concurrent hits, from any number of connections, admits exactly `limit`.

  KEYS[1]  the window's sorted set (member = hit id, score = hit time in ms)
  ARGV[1]  now_ms     the caller's clock, in whole ms. Taken from the caller rather than
                      from Redis TIME so tests can inject a clock and step through the
                      window deterministically (and so the script is a pure function of
                      its arguments).
  ARGV[2]  window_ms  whole ms, at least 1
  ARGV[3]  limit      whole number, at least 1
  ARGV[4]  member     an id unique to this hit (two hits in one ms must not collide,
                      or ZADD would overwrite one and under-count)

  Entries with score <= now - window have left the window and are removed first.
  An admitted hit is added and the key's PEXPIRE is set to the window: the newest
  admitted hit outlives all older ones, so the TTL always covers every live entry.
  A denied hit adds nothing and leaves the TTL alone.

  Returns { allowed (0|1), count in the window after this call,
            retry_after_ms: 0 when allowed, else the time until the oldest entry leaves
            the window, at least 1 and at most window_ms (a caller whose clock lags, or
            whose hit arrived after a later-stamped one, would otherwise be told to
            wait longer than the window itself) }
]]
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])

redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('PEXPIRE', key, window)
  return { 1, count + 1, 0 }
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local retry = window
if oldest[2] then
  retry = math.min(window, math.max(1, tonumber(oldest[2]) + window - now))
end
return { 0, count, retry }
