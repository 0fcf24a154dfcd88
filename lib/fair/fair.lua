--[[
  Fair dispatch of one queue's tenant jobs (lib/fair/, docs/decisions/0010). One script
  over one queue's eleven keys (parkMany: eleven per queue), the operation chosen by
  ARGV[1]. Every key comes in KEYS
  and carries the queue prefix's hash tag, so on a Redis Cluster they share the slot of
  the BullMQ queues (decision 0007). Times are Redis's own (TIME), so producers and
  workers on hosts whose clocks differ agree.

  KEYS[1]  parked   sorted set, every score 0, member "<tenant>:<seq>:<ms>:<cost>:<jobId>"
                    (seq 13 digits: lexical order is each tenant's order of arrival)
  KEYS[2]  items    hash member -> the job as JSON ({ name, data, opts }), until acked
  KEYS[3]  ring     list of the tenants with parked jobs, in dispatch order
  KEYS[4]  tenants  hash "n:<tenant>" jobs parked, "d:<tenant>" deficit (deficit round robin)
  KEYS[5]  running  hash tenant -> jobs released and not finished, "c:<tenant>" -> their cost
  KEYS[6]  jobs     hash jobId -> "<tenant>|<cost>|<ms released>" (released, not finished)
  KEYS[7]  meta     hash: seq (park counter), inflight (cost released, not finished), window
  KEYS[8]  limits   hash tenant -> "<maxRunning>|<perSecond>" (tenant settings; absent: defaults)
  KEYS[9]  buckets  hash tenant -> "<tokens>|<ms>" (the rate's token bucket)
  KEYS[10] seen     sorted set tenant -> ms of its last enqueue (whose limits to refresh)
  KEYS[11] claimed  sorted set member -> ms a dispatcher took it, until it is acked

  ARGV[1] op   ARGV[2] default maxRunning   ARGV[3] default perSecond (0: no rate)
  ARGV[4] default window (cost in flight for the queue, when meta has none)

  op "enqueue"  ARGV[5] tenant, ARGV[6] jobId, ARGV[7] cost, ARGV[8] job JSON,
                ARGV[9] "1" it may go to BullMQ at once, "0" park it whatever the room,
                ARGV[10] deadline (Redis ms; "0" none): past it, nothing is stored;
                admitted when nobody is parked, or when it is small (cost <= 10) and
                its tenant has nothing parked (roomFor: small jobs may take a quarter
                of the window above it)
                -> { 1, ahead, member, now } admitted: its slot is taken and it is
                   claimed under member (the caller adds it to BullMQ now, then acks;
                   a caller that never acks leaves a claim dispatch hands out again);
                   ahead: the tenant's cost in flight before it (0: BullMQ's wait
                   list, taken first; n: priority n, so lighter tenants go first);
                   { 0, now } parked; { -1, now } past the deadline: nothing stored
  op "parkMany" KEYS: eleven per queue, queue after queue (all in one slot);
                ARGV[5] deadline (as for enqueue), then five per job: queue's index
                (0-based, in KEYS), tenant, jobId, cost, job JSON
                -> { 0, now } every job parked, or { -1, now } none (past the deadline)
  op "dispatch" ARGV[5] most jobs, ARGV[6] quantum (cost a tenant may send per turn),
                ARGV[7] stale ms (claims older than this are handed out again),
                ARGV[8] most tenants visited
                -> { member, job JSON, ahead, member, job JSON, ahead, ... } to add
                   to BullMQ (ahead as for enqueue), then ack
  op "ack"      ARGV[5..] members added to BullMQ -> how many were claimed
  op "finish"   ARGV[5..] jobIds that completed or failed for good -> how many freed a slot
  op "stats"    -> { tenants waiting, jobs parked, largest tenant's jobs, oldest parked
                   age ms, longest wait ms of a head neither the largest tenant's nor held
                   by its own limits, cost in flight, window, then per tenant waiting:
                   tenant, jobs, its first job's cost, that job's age ms, running, held (1/0) }
]]
local parked, items, ring, tenants, running, jobs, meta, limits, buckets, seen, claimed =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local op = ARGV[1]
local defMax, defRate, defWindow = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function limitsOf(tenant)
  local v = redis.call('HGET', limits, tenant)
  if v then
    local m, r = string.match(v, '^(%d+)|(%d+)$')
    if m then return tonumber(m), tonumber(r) end
  end
  return defMax, defRate
end

-- The bucket holds at most one second of the rate; a job costing more than that waits
-- for a full bucket and leaves it in debt, so the average rate still holds.
local function tokensFor(tenant, rate)
  local v = redis.call('HGET', buckets, tenant)
  if not v then return rate end
  local tokens, ms = string.match(v, '^(-?[%d.]+)|(%d+)$')
  return math.min(rate, tonumber(tokens) + (now - tonumber(ms)) * rate / 1000)
end

local function rateAllows(tenant, cost, rate)
  return rate <= 0 or tokensFor(tenant, rate) >= math.min(cost, rate)
end

local function take(tenant, jobId, cost, rate)
  if rate > 0 then
    redis.call('HSET', buckets, tenant, string.format('%.3f|%d', tokensFor(tenant, rate) - cost, now))
  end
  -- The same job id released twice (an alert sent again) is one BullMQ job: one slot.
  if redis.call('HSETNX', jobs, jobId, tenant .. '|' .. cost .. '|' .. now) == 1 then
    redis.call('HINCRBY', meta, 'inflight', cost)
    redis.call('HINCRBY', running, tenant, 1)
    -- The tenant's cost in flight before this job: 0 goes to BullMQ's wait list, n to
    -- priority n, so the tenant with less in flight goes first.
    return tostring(redis.call('HINCRBY', running, 'c:' .. tenant, cost) - cost)
  end
  return tostring(math.max(1, tonumber(redis.call('HGET', running, 'c:' .. tenant)) or 1))
end

-- Read once per call (roomFor asks for it for every job a dispatch looks at).
local windowCache
local function windowOf()
  windowCache = windowCache or tonumber(redis.call('HGET', meta, 'window')) or defWindow
  return windowCache
end

-- A job of at most SMALL_COST (an audit job of a few entries, any alert) may also take a
-- quarter of the window above it, so a light tenant's job is not parked while another's
-- large jobs keep the window full; in flight stays under 1.25 x the window.
local SMALL_COST = 10
local function roomFor(inflight, cost)
  local window = windowOf()
  if inflight == 0 or inflight + cost <= window then return true end
  return cost <= SMALL_COST and inflight + cost <= window + math.floor(window / 4)
end

local function parse(member)
  local tenant, ms, cost, jobId = string.match(member, '^([^:]+):%d+:(%d+):(%d+):(.+)$')
  return tenant, tonumber(ms), tonumber(cost), jobId
end

local function headOf(tenant)
  local head = redis.call('ZRANGEBYLEX', parked, '[' .. tenant .. ':', '(' .. tenant .. ';', 'LIMIT', 0, 1)
  return head[1]
end

-- The callers that answer someone (the HTTP API) send a deadline: a call Redis runs after
-- it stores nothing, so a caller that gave up on an answer can say "not stored" and be
-- right (docs/api.md, Outages).
local function expired(deadline)
  deadline = tonumber(deadline) or 0
  return deadline > 0 and now > deadline
end

local function nextMember(metaKey, tenant, cost, jobId)
  local seq = redis.call('HINCRBY', metaKey, 'seq', 1)
  return string.format('%s:%013d:%d:%d:%s', tenant, seq, now, cost, jobId)
end

-- Park a job on the queue whose keys start at KEYS[base + 1].
local function parkAt(base, tenant, jobId, cost, job)
  local member = nextMember(KEYS[base + 7], tenant, cost, jobId)
  redis.call('ZADD', KEYS[base + 10], now, tenant)
  redis.call('ZADD', KEYS[base + 1], 0, member)
  redis.call('HSET', KEYS[base + 2], member, job)
  if redis.call('HINCRBY', KEYS[base + 4], 'n:' .. tenant, 1) == 1 then redis.call('RPUSH', KEYS[base + 3], tenant) end
end

if op == 'enqueue' then
  local tenant, jobId, cost, job, mayRun = ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8], ARGV[9]
  if expired(ARGV[10]) then return { -1, now } end
  local maxRunning, rate = limitsOf(tenant)
  -- At once only when nobody is parked (else it would pass them; a small job of a
  -- tenant with nothing parked may: it takes the small jobs' room, not theirs), the
  -- tenant is under its caps and the queue has room.
  local passes = redis.call('LLEN', ring) == 0
    or (cost <= SMALL_COST and not redis.call('HGET', tenants, 'n:' .. tenant))
  if mayRun == '1' and passes then
    local inflight = tonumber(redis.call('HGET', meta, 'inflight')) or 0
    local run = tonumber(redis.call('HGET', running, tenant)) or 0
    if run < maxRunning and roomFor(inflight, cost) and rateAllows(tenant, cost, rate) then
      redis.call('ZADD', seen, now, tenant)
      -- Claimed as dispatch claims: stored here, whatever becomes of the caller's add.
      local member = nextMember(meta, tenant, cost, jobId)
      redis.call('HSET', items, member, job)
      redis.call('ZADD', claimed, now, member)
      return { 1, take(tenant, jobId, cost, rate), member, now }
    end
  end
  parkAt(0, tenant, jobId, cost, job)
  return { 0, now }
end

if op == 'parkMany' then
  if expired(ARGV[5]) then return { -1, now } end
  for i = 6, #ARGV, 5 do
    parkAt(tonumber(ARGV[i]) * 11, ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4])
  end
  return { 0, now }
end

if op == 'dispatch' then
  local most, quantum, staleMs, maxVisits = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
  local out = {}
  -- Claims a dispatcher never acked (it died between claim and add): handed out again;
  -- the add is by job id, so a job already added is not added twice.
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', claimed, '-inf', now - staleMs, 'LIMIT', 0, most)) do
    local job = redis.call('HGET', items, m)
    if job then
      redis.call('ZADD', claimed, now, m)
      out[#out + 1] = m
      out[#out + 1] = job
      out[#out + 1] = '1'
    else
      redis.call('ZREM', claimed, m)
    end
  end
  local inflight = tonumber(redis.call('HGET', meta, 'inflight')) or 0
  local visits, ringLen = 0, redis.call('LLEN', ring)
  while #out < most * 3 and visits < math.min(ringLen, maxVisits) do
    local tenant = redis.call('LINDEX', ring, 0)
    if not tenant then break end
    visits = visits + 1
    local maxRunning, rate = limitsOf(tenant)
    local run = tonumber(redis.call('HGET', running, tenant)) or 0
    local deficit = (tonumber(redis.call('HGET', tenants, 'd:' .. tenant)) or 0) + quantum
    local sent, emptied, full = 0, false, false
    while #out < most * 3 do
      local m = headOf(tenant)
      if not m then
        emptied = true
        break
      end
      local _, _, cost, jobId = parse(m)
      -- A job dearer than a quantum goes once a whole quantum is saved (the debt is repaid later).
      if math.min(cost, quantum) > deficit or run >= maxRunning or not rateAllows(tenant, cost, rate) then break end
      if not roomFor(inflight, cost) then
        full = true
        break
      end
      local ahead = take(tenant, jobId, cost, rate)
      redis.call('ZREM', parked, m)
      redis.call('ZADD', claimed, now, m)
      local left = redis.call('HINCRBY', tenants, 'n:' .. tenant, -1)
      out[#out + 1] = m
      out[#out + 1] = redis.call('HGET', items, m)
      out[#out + 1] = ahead
      deficit, run, inflight, sent = deficit - cost, run + 1, inflight + cost, sent + 1
      if left <= 0 then
        emptied = true
        break
      end
    end
    if emptied then
      redis.call('LPOP', ring)
      redis.call('HDEL', tenants, 'n:' .. tenant, 'd:' .. tenant)
    elseif full and sent == 0 then
      -- Next in line once room frees: it keeps the head and what it has saved.
      redis.call('HSET', tenants, 'd:' .. tenant, math.min(deficit, quantum))
      break
    else
      -- Held by its own caps or rate: it saves nothing (an idle flow in round robin).
      redis.call('HSET', tenants, 'd:' .. tenant, sent == 0 and 0 or math.min(deficit, quantum))
      redis.call('LMOVE', ring, ring, 'LEFT', 'RIGHT')
      if full then break end
    end
  end
  return out
end

if op == 'ack' then
  local n = 0
  for i = 5, #ARGV do
    n = n + redis.call('ZREM', claimed, ARGV[i])
    redis.call('HDEL', items, ARGV[i])
  end
  return n
end

if op == 'finish' then
  local n = 0
  for i = 5, #ARGV do
    local v = redis.call('HGET', jobs, ARGV[i])
    if v then
      local tenant, cost = string.match(v, '^([^|]+)|(%d+)|')
      redis.call('HDEL', jobs, ARGV[i])
      if redis.call('HINCRBY', running, tenant, -1) <= 0 then redis.call('HDEL', running, tenant) end
      if redis.call('HINCRBY', running, 'c:' .. tenant, -tonumber(cost)) <= 0 then
        redis.call('HDEL', running, 'c:' .. tenant)
      end
      if redis.call('HINCRBY', meta, 'inflight', -tonumber(cost)) < 0 then redis.call('HSET', meta, 'inflight', 0) end
      n = n + 1
    end
  end
  return n
end

if op == 'stats' then
  local rows, largest, largestTenant, oldest = {}, 0, nil, 0
  for _, tenant in ipairs(redis.call('LRANGE', ring, 0, -1)) do
    local m = headOf(tenant)
    if m then
      local n = tonumber(redis.call('HGET', tenants, 'n:' .. tenant)) or 0
      local _, ms, cost = parse(m)
      local maxRunning, rate = limitsOf(tenant)
      local run = tonumber(redis.call('HGET', running, tenant)) or 0
      local held = (run >= maxRunning or not rateAllows(tenant, cost, rate)) and 1 or 0
      rows[#rows + 1] = { tenant, n, cost, now - ms, run, held }
      if n > largest then largest, largestTenant = n, tenant end
      if now - ms > oldest then oldest = now - ms end
    end
  end
  local starved = 0
  for _, r in ipairs(rows) do
    if r[1] ~= largestTenant and r[6] == 0 and r[4] > starved then starved = r[4] end
  end
  local out = { #rows, redis.call('ZCARD', parked), largest, oldest, starved,
    tonumber(redis.call('HGET', meta, 'inflight')) or 0, windowOf() }
  for _, r in ipairs(rows) do
    for _, v in ipairs(r) do out[#out + 1] = v end
  end
  return out
end

return redis.error_reply('unknown fair op ' .. tostring(op))
