-- Prepended to every queue script (never run alone). The line lives under 'q:' keys:
--   q:seq         INCR counter, the issue order across every instance; its existence means
--                 "Redis holds the line" for restore
--   q:tok:<id>    HASH user, seq, state (w/a/s), issued, until, spent, poll (times in ms)
--   q:user:<user> the user's live (waiting or active) token id
--   q:waiting     ZSET id by seq: positions are ZRANK + 1
--   q:idle        ZSET waiting id by last poll; q:idle_floor: no idle clock starts before it
--   q:active      ZSET id by activeUntil; its size is the number of taken slots
--   q:spent       ZSET id by spent time, forgotten after the grace
--   q:admits      ZSET id by activation time, the last 60 s for the wait estimate
--   q:changes     LIST of state changes for the durable store, popped by tick
--   q:prequeue    ZSET pre-queue (state p) id by last poll, until the opening claims it
--   q:opening     HASH the opening in progress: for (its opensAt), seed, first (seq of its
--                 block), n, unplaced, lease (its claimer's, ms); see open.lua
--   q:opening_ids ZSET the pre-queue the opening closed, members until placed
--   q:opened_for  the opensAt of the last opening done
--   q:idle_placed ZSET placed pre-queue id by its last poll before the opening, folded into
--                 q:idle by the tick once idle-ttl old (a poll since has put it there already)
--   q:budget      HASH credit, at: the outflow cap's token bucket, one for the whole cluster
-- ARGV begins with the arguments every script shares, by name: ARGV[1] is their count n, then n
-- name/value pairs, written from kSharedArgs in redis_coordinator.cpp (the caller's clock and the
-- room's settings). A script's own arguments follow, read with arg(1), arg(2), ...
local SHARED = {}
local COMMON = 1 + 2 * tonumber(ARGV[1])
for i = 2, COMMON, 2 do
  SHARED[ARGV[i]] = ARGV[i + 1]
end
local function shared_number(name)
  local v = tonumber(SHARED[name])
  if v == nil then
    error('the shared argument ' .. name .. ' is missing')
  end
  return v
end
local function arg(i) return ARGV[COMMON + i] end
local NOW = shared_number('now')
local MAX_ACTIVE = shared_number('max_active')
local ACTIVE_TTL = shared_number('active_ttl')
local IDLE_TTL = shared_number('idle_ttl')
local GRACE = shared_number('grace')
local PAUSED = SHARED.paused == '1'
local ADMIT_PER_MINUTE = shared_number('admit_per_minute')  -- 0: no cap
local OPENS_AT = shared_number('opens_at')                  -- -1: no opening set
local OPENED_FOR = shared_number('opened_for')              -- -1: none; the store's word on the last opening done
-- When nobody ticks for a very long time, the oldest changes go rather than all of memory.
local MAX_CHANGES_KEPT = 1000000

local K_SEQ = 'q:seq'
local K_WAITING = 'q:waiting'
local K_IDLE = 'q:idle'
local K_FLOOR = 'q:idle_floor'
local K_ACTIVE = 'q:active'
local K_SPENT = 'q:spent'
local K_ADMITS = 'q:admits'
local K_CHANGES = 'q:changes'
local K_PREQUEUE = 'q:prequeue'
local K_OPENING = 'q:opening'
local K_OPENING_IDS = 'q:opening_ids'
local K_OPENED_FOR = 'q:opened_for'
local K_IDLE_PLACED = 'q:idle_placed'
local K_BUDGET = 'q:budget'

local function tok_key(id) return 'q:tok:' .. id end

-- The line is lost when q:seq is gone (Redis restarted without data, or flushed): until an
-- instance's tick notices and restores it from the store, nobody is placed against a partial
-- line and no live token reads as unknown; the callers answer 503 and the client retries.
local function line_lost() return redis.call('EXISTS', K_SEQ) == 0 end
local LINE_LOST = 'LINE_LOST the waiting line is being restored'
local function user_key(user) return 'q:user:' .. user end
local function ms(x) return string.format('%.0f', x) end

local function load(id)
  local v = redis.call('HMGET', tok_key(id), 'user', 'seq', 'state', 'issued', 'until', 'spent', 'poll')
  if not v[1] then
    return nil
  end
  local t = {id = id, user = v[1], seq = tonumber(v[2]), state = v[3], issued = tonumber(v[4]),
             active_until = tonumber(v[5]), spent = tonumber(v[6]), poll = tonumber(v[7])}
  if t.state == 'p' then
    -- Placed by an opening (open.lua): waiting at its drawn seq.
    local seq = redis.call('ZSCORE', K_WAITING, id)
    if seq then
      t.state, t.seq = 'w', tonumber(seq)
    end
  end
  return t
end

local function push_change(id, state, active_until, spent)
  local line = id .. '|' .. state .. '|' .. (active_until and ms(active_until) or '') .. '|' ..
               (spent and ms(spent) or '')
  if redis.call('RPUSH', K_CHANGES, line) > MAX_CHANGES_KEPT then
    redis.call('LTRIM', K_CHANGES, -MAX_CHANGES_KEPT, -1)
  end
end

local function release_user(t)
  if redis.call('GET', user_key(t.user)) == t.id then
    redis.call('DEL', user_key(t.user))
  end
end

local function erase(t)
  release_user(t)
  redis.call('DEL', tok_key(t.id))
  redis.call('ZREM', K_WAITING, t.id)
  redis.call('ZREM', K_IDLE, t.id)
  redis.call('ZREM', K_ACTIVE, t.id)
  redis.call('ZREM', K_SPENT, t.id)
  redis.call('ZREM', K_PREQUEUE, t.id)
  redis.call('ZREM', K_OPENING_IDS, t.id)
  redis.call('ZREM', K_IDLE_PLACED, t.id)
end

local function mark_spent(t, at)
  redis.call('ZREM', K_ACTIVE, t.id)
  t.state = 's'
  t.spent = at
  redis.call('HSET', tok_key(t.id), 'state', 's', 'spent', ms(at))
  release_user(t)
  redis.call('ZADD', K_SPENT, ms(at), t.id)
end

local function idle_floor()
  return tonumber(redis.call('GET', K_FLOOR)) or 0
end

local function touch(t)
  t.poll = NOW
  redis.call('HSET', tok_key(t.id), 'poll', ms(NOW))
  if t.state == 'p' then
    -- XX: a pre-queue closed by an opening is not reopened by a poll; a closed one being placed
    -- keeps its idle clock in q:opening_ids until then.
    redis.call('ZADD', K_PREQUEUE, 'XX', ms(NOW), t.id)
    redis.call('ZADD', K_OPENING_IDS, 'XX', ms(NOW), t.id)
  else
    redis.call('ZADD', K_IDLE, ms(NOW), t.id)
  end
end

local function opening_claimed() return redis.call('EXISTS', K_OPENING) == 1 end

-- New tokens join the pre-queue: an opening is set, not done and not claimed yet.
local function pre_queue_mode()
  if OPENS_AT < 0 or OPENED_FOR == OPENS_AT then
    return false
  end
  if tonumber(redis.call('GET', K_OPENED_FOR)) == OPENS_AT then
    return false
  end
  return tonumber(redis.call('HGET', K_OPENING, 'for')) ~= OPENS_AT
end

-- No admission while paused or while an opening is placed (its tokens go first).
local function admissions_open() return not PAUSED and not opening_claimed() end

-- One admission from the outflow cap's budget: the arithmetic of AdmissionBudget
-- (domain/waiting_room.hpp), in 1/60000 of an admission, holding at most 100 ms' worth.
local function budget_take()
  if ADMIT_PER_MINUTE <= 0 then
    return true
  end
  local cap = math.max(60000, ADMIT_PER_MINUTE * 100)
  local b = redis.call('HMGET', K_BUDGET, 'credit', 'at')
  local credit, at = tonumber(b[1]), tonumber(b[2])
  if not credit then
    credit, at = cap, NOW
  elseif NOW > at then
    credit = math.min(cap, credit + math.min(NOW - at, 60000) * ADMIT_PER_MINUTE)
  end
  at = math.max(at, NOW)
  local ok = credit >= 60000
  if ok then
    credit = credit - 60000
  end
  redis.call('HSET', K_BUDGET, 'credit', ms(credit), 'at', ms(at))
  return ok
end

-- Lazy transitions of one token (deadline passed, idle, grace over); nil when it is gone.
local function settle(t)
  if t.state == 'p' then
    -- A pre-queue closed by a claim is kept whole until placed (each gets a fresh idle clock then).
    if math.max(t.poll or 0, idle_floor()) + IDLE_TTL <= NOW and not opening_claimed() then
      push_change(t.id, 'dropped', nil, nil)
      erase(t)
      return nil
    end
  elseif t.state == 'w' then
    if math.max(t.poll or 0, idle_floor()) + IDLE_TTL <= NOW then
      push_change(t.id, 'dropped', nil, nil)
      erase(t)
      return nil
    end
  elseif t.state == 'a' then
    if t.active_until <= NOW then
      mark_spent(t, t.active_until)
      push_change(t.id, 'spent', t.active_until, t.spent)
    end
  elseif t.state == 's' then
    if t.spent + GRACE <= NOW then
      erase(t)
      return nil
    end
  else
    erase(t)
    return nil
  end
  return t
end

local function activate(t, record)
  redis.call('ZREM', K_WAITING, t.id)
  redis.call('ZREM', K_IDLE, t.id)
  t.state = 'a'
  t.active_until = NOW + ACTIVE_TTL
  redis.call('HSET', tok_key(t.id), 'state', 'a', 'until', ms(t.active_until))
  redis.call('ZADD', K_ACTIVE, ms(t.active_until), t.id)
  redis.call('ZADD', K_ADMITS, ms(NOW), t.id)
  if record then
    push_change(t.id, 'active', t.active_until, nil)
  end
end

-- {created, id, user, state, seq, position, issued, until or -1, spent or -1}
local function view(t, created)
  local position = 0
  if t.state == 'w' then
    local rank = redis.call('ZRANK', K_WAITING, t.id)
    if rank then
      position = rank + 1
    end
    -- Behind an opening being placed, its tokens without a place yet count as ahead already, so
    -- that a later arrival's place never grows while the block fills.
    local o = redis.call('HMGET', K_OPENING, 'first', 'n', 'unplaced')
    if o[1] and t.seq >= tonumber(o[1]) + tonumber(o[2]) then
      position = position + tonumber(o[3])
    end
  end
  return {created and 1 or 0, t.id, t.user, t.state, t.seq, position, t.issued, t.active_until or -1, t.spent or -1}
end

