--[[
  The one alert-policy decision for one alert, atomic per tenant. All keys share the
  tenant's hash tag, so this also runs on Redis Cluster.

  KEYS[1]  {p}:alert:{tenant}:count                     sliding log (zset: member = alert id, score = ms) for the tenant limit
  KEYS[2]  {p}:alert:{tenant}:type:{type}:cooldown      string: ms of the type's last admitted alert
  KEYS[3]  {p}:alert:{tenant}:user:{user}:throttle      sliding log for the per-user throttle (untouched without a user)
  KEYS[4]  {p}:alert:{tenant}:group:{groupKey}          hash {groupId, flushAt} of the open group
  KEYS[5]  {p}:alert:{tenant}:seen:{dedupeKey}          string: id of the first alert with this dedupe key (untouched without one)
  KEYS[6]  {p}:alert:{tenant}:decided:{alertId}         string: this alert's decision (JSON of the reply), kept replay_ttl_ms
  KEYS[7..] (optional) keys of the caller's, in the tenant's slot, only read: their
            PTTL is appended to the reply (the channel pauses, so that sending a
            `deliver` decision needs no second round trip to learn them)

  ARGV[1]  now_ms          the caller's clock. Passed in rather than read with TIME so tests can
                           inject time (cooldowns, windows, groups, quiet hours) without sleeping,
                           and so the quiet-hours answer computed in JS and this script agree on "now".
  ARGV[2]  alert_id        unique id of this alert (log member, group id when it opens a group)
  ARGV[3]  critical        1 when severity is critical: no grouping, no cooldown, never rate-limited (still counted)
  ARGV[4]  has_user        1 when KEYS[3] names a real user
  ARGV[5]  has_dedupe      1 when KEYS[5] names a real dedupe key
  ARGV[6]  quiet           1 when now is inside the tenant's quiet hours
  ARGV[7]  quiet_ends_ms   when quiet hours end (the defer-until time)
  ARGV[8]  quiet_mode      'defer' | 'drop'
  ARGV[9]  bypass          1 when the severity bypasses quiet hours
  ARGV[10] max_per_window  tenant limit (>= 1)
  ARGV[11] window_ms       tenant limit window
  ARGV[12] cooldown_ms     per-type cooldown (0 = none)
  ARGV[13] group_wait_ms   grouping wait (0 = no grouping)
  ARGV[14] user_limit      per-user limit (0 = no throttle)
  ARGV[15] user_window_ms  per-user window
  ARGV[16] dedupe_ttl_ms   how long a dedupe key is remembered
  ARGV[17] replay_ttl_ms   how long this alert's decision is remembered

  Replay: an alert decided before (its job run again after a crash or a failure) gets
  the same decision back and consumes nothing again. Deciding anew would find the
  cooldown, limit and group its own first decision left behind, and suppress or
  regroup an alert that was admitted.

  Order: duplicate, user throttle, quiet hours, critical, grouping (joiners stop here),
  cooldown, tenant limit, deliver. A suppression consumes nothing (no limit, cooldown or
  throttle entry); only the duplicate marker is always written.

  Returns { outcome, reason, defer_until_ms, group_id, flush_at_ms, opened, duplicate_of,
  pttl(KEYS[7]), pttl(KEYS[8]), ... } with '' / 0 for the fields that do not apply.
]]
local count_key, cooldown_key, user_key, group_key, seen_key, decided_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local now = tonumber(ARGV[1])
local alert_id = ARGV[2]
local critical = ARGV[3] == '1'
local has_user, has_dedupe = ARGV[4] == '1', ARGV[5] == '1'
local quiet, quiet_ends, quiet_mode, bypass = ARGV[6] == '1', tonumber(ARGV[7]), ARGV[8], ARGV[9] == '1'
local max_per_window, window_ms = tonumber(ARGV[10]), tonumber(ARGV[11])
local cooldown_ms, group_wait_ms = tonumber(ARGV[12]), tonumber(ARGV[13])
local user_limit, user_window_ms = tonumber(ARGV[14]), tonumber(ARGV[15])
local dedupe_ttl_ms = tonumber(ARGV[16])
local replay_ttl_ms = tonumber(ARGV[17])

-- The watched keys' TTLs go after the decision, and are not part of what is remembered.
local function with_ttls(reply)
  for i = 7, #KEYS do reply[#reply + 1] = redis.call('PTTL', KEYS[i]) end
  return reply
end

local decided = redis.call('GET', decided_key)
if decided then return with_ttls(cjson.decode(decided)) end

-- Every decision leaves through here, remembered for a replay.
local function finish(reply)
  redis.call('SET', decided_key, cjson.encode(reply), 'PX', replay_ttl_ms)
  return with_ttls(reply)
end

local function suppress(reason, duplicate_of)
  return finish({ 'suppress', reason, 0, '', 0, 0, duplicate_of or '' })
end

-- (1) duplicate: the first alert with a dedupe key claims it for dedupe_ttl_ms.
if has_dedupe then
  local first = redis.call('GET', seen_key)
  if first then return suppress('duplicate', first) end
  redis.call('SET', seen_key, alert_id, 'PX', dedupe_ttl_ms)
end

-- (2) per-user sliding window; the hit is recorded only if the alert is not suppressed.
local user_throttled = has_user and user_limit > 0
if user_throttled then
  redis.call('ZREMRANGEBYSCORE', user_key, '-inf', now - user_window_ms)
  if redis.call('ZCARD', user_key) >= user_limit then return suppress('user_throttled') end
end
local function take_user_hit()
  if user_throttled then
    redis.call('ZADD', user_key, now, alert_id)
    redis.call('PEXPIRE', user_key, user_window_ms)
  end
end

-- (3) quiet hours
if quiet and not bypass then
  if quiet_mode == 'drop' then return suppress('quiet_hours') end
  take_user_hit()
  return finish({ 'defer', '', quiet_ends, '', 0, 0, '' })
end

-- Tenant sliding log: drop what left the window.
redis.call('ZREMRANGEBYSCORE', count_key, '-inf', now - window_ms)
local function count_hit()
  redis.call('ZADD', count_key, now, alert_id)
  redis.call('PEXPIRE', count_key, window_ms)
end

-- (4) critical: never grouped, never cooled down, never rate-limited; still counted.
if critical then
  take_user_hit()
  count_hit()
  return finish({ 'deliver', '', 0, '', 0, 0, '' })
end

-- (5) grouping: join an open group (consumes nothing more), or become the opener below.
local grouping = group_wait_ms > 0
if grouping then
  local open = redis.call('HMGET', group_key, 'groupId', 'flushAt')
  if open[1] and open[2] and tonumber(open[2]) > now then
    take_user_hit()
    return finish({ 'group', '', 0, open[1], tonumber(open[2]), 0, '' })
  end
end

-- (6) cooldown per type
if cooldown_ms > 0 then
  -- The last admission time (not an end time) is stored, so a changed cooldown applies at once.
  local last = tonumber(redis.call('GET', cooldown_key) or '')
  if last and now - last < cooldown_ms then return suppress('cooldown') end
end

-- (7) tenant limit
if redis.call('ZCARD', count_key) >= max_per_window then return suppress('rate_limited') end

-- Admitted: consume the limit, the cooldown and the user's quota.
count_hit()
take_user_hit()
if cooldown_ms > 0 then redis.call('SET', cooldown_key, now, 'PX', cooldown_ms) end
if grouping then
  local flush_at = now + group_wait_ms
  redis.call('HSET', group_key, 'groupId', alert_id, 'flushAt', flush_at)
  -- Kept a little past flushAt only for inspection; the script trusts flushAt, not the TTL.
  redis.call('PEXPIRE', group_key, group_wait_ms + 60000)
  return finish({ 'group', '', 0, alert_id, flush_at, 1, '' })
end
return finish({ 'deliver', '', 0, '', 0, 0, '' })
