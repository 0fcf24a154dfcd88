--[[
  Failure lockout: at most `limit` failures of one subject are let through (judged)
  per sliding window; the next failure locks the subject for `lock_ms`, and while the
  lock lasts every attempt is refused, failed or not. Checking the lock, counting the
  failure and setting the lock are one step, so however many attempts arrive at once,
  from however many processes, exactly `limit` failures are judged and exactly one
  call reports that it set the lock.

  KEYS[1]  the subject's failures: a sorted set (member = attempt id, score = time in ms)
  KEYS[2]  the subject's lock: a string with a TTL of lock_ms
  ARGV[1]  now_ms     the caller's clock, in whole ms (as in sliding-window.lua, so tests
                      can inject a clock)
  ARGV[2]  window_ms  whole ms, at least 1
  ARGV[3]  limit      whole number, at least 1: failures judged per window
  ARGV[4]  lock_ms    whole ms, at least 1
  ARGV[5]  member     an id unique to this call (two failures in one ms must not collide,
                      or ZADD would overwrite one and under-count)
  ARGV[6]  outcome    'failure' to record a failure; 'check' only to ask about the lock
                      (an attempt that succeeded, or that counts for nothing)

  Returns { state, ms, failures }:
    'locked'   already locked: ms = the lock's remaining TTL (lock_ms if it has none)
    'lock'     this failure was one too many and set the lock: ms = lock_ms. The failures
               set is dropped, so the count starts afresh when the lock ends.
    'counted'  the failure was recorded and is to be judged: failures = count in the window
    'open'     a 'check' of a subject that is not locked
]]
local failures_key = KEYS[1]
local lock_key = KEYS[2]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local lock_ms = tonumber(ARGV[4])

local ttl = redis.call('PTTL', lock_key)
if ttl > 0 then
  return { 'locked', ttl, 0 }
elseif ttl == -1 then
  return { 'locked', lock_ms, 0 }
end
if ARGV[6] ~= 'failure' then
  return { 'open', 0, 0 }
end

redis.call('ZREMRANGEBYSCORE', failures_key, '-inf', now - window)
local count = redis.call('ZCARD', failures_key)
if count < limit then
  redis.call('ZADD', failures_key, now, ARGV[5])
  redis.call('PEXPIRE', failures_key, window)
  return { 'counted', 0, count + 1 }
end
redis.call('SET', lock_key, '1', 'PX', lock_ms)
redis.call('DEL', failures_key)
return { 'lock', lock_ms, count + 1 }
