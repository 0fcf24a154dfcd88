--[[
  Sliding-log rate limit: admit a hit only if fewer than `limit` hits lie within the
  last `window_ms`. One script, so the check and the insert are atomic: a burst of
  2×limit concurrent hits, from any number of connections, admits exactly `limit`.
  A caller may bring several hits for the same key at once (those that arrived in
  one event-loop turn): they are admitted in order while room lasts, exactly as if
  they had come one by one, for one round trip instead of n.

  KEYS[1]  the window's sorted set (member = hit id, score = hit time in ms)
  ARGV[1]  now_ms     the caller's clock, in whole ms. Taken from the caller rather than
                      from Redis TIME so tests can inject a clock and step through the
                      window deterministically (and so the script is a pure function of
                      its arguments).
  ARGV[2]  window_ms  whole ms, at least 1
  ARGV[3]  limit      whole number, at least 1
  ARGV[4]  member     an id prefix unique to this call; hit i is stored as member..":"..i
                      (two hits in one ms must not collide, or ZADD would overwrite one
                      and under-count)
  ARGV[5]  n          how many hits this call brings, at least 1

  Entries with score <= now - window have left the window and are removed first.
  Admitted hits are added and the key's PEXPIRE is set to the window: the newest
  admitted hit outlives all older ones, so the TTL always covers every live entry.
  Denied hits add nothing and leave the TTL alone.

  Returns { admitted (0..n; the first `admitted` hits are allowed),
            count in the window before this call,
            retry_after_ms: 0 when all were admitted, else the time until the oldest
            entry leaves the window, at least 1 and at most window_ms (a caller whose
            clock lags, or whose hit arrived after a later-stamped one, would
            otherwise be told to wait longer than the window itself) }
]]
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local n = tonumber(ARGV[5])

redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
local admitted = math.max(0, math.min(n, limit - count))
if admitted > 0 then
  local args = {}
  for i = 1, admitted do
    args[#args + 1] = now
    args[#args + 1] = ARGV[4] .. ':' .. i
  end
  redis.call('ZADD', key, unpack(args))
  redis.call('PEXPIRE', key, window)
end
if admitted == n then
  return { admitted, count, 0 }
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local retry = window
if oldest[2] then
  retry = math.min(window, math.max(1, tonumber(oldest[2]) + window - now))
end
return { admitted, count, retry }
