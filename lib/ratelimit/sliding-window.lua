--[[
  Sliding-log rate limit: admit a hit only if fewer than `limit` hits lie within the
  last `window_ms`. Atomic, so a burst of 2×limit concurrent hits admits exactly limit.

  KEYS[1]  the window's sorted set (member = hit id, score = time in ms)
  ARGV[1]  now_ms   the caller's clock (passed in so tests can inject time, and so
                    every process of one deployment agrees on what "now" is)
  ARGV[2]  window_ms
  ARGV[3]  limit
  ARGV[4]  member   a unique id for this hit

  Returns { allowed (0|1), count after this call, retry_after_ms (0 when allowed) }
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
local retry = 1
if oldest[2] then
  retry = math.max(1, tonumber(oldest[2]) + window - now)
end
return { 0, count, retry }
