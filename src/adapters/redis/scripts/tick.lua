-- arg(1) most tokens looked at per step, arg(2) most changes handed out. One script, so that
-- concurrent ticks of several instances run one after the other and never exceed max-active
-- nor the outflow cap.
if line_lost() then
  return {'!LINE_LOST'}
end
local LIMIT = tonumber(arg(1))
local MAX_POP = tonumber(arg(2))

-- Looks at up to LIMIT members of `key` scored at or before `before`: one that is gone or in
-- another state leaves the set; the others are settled (spent, dropped or forgotten when due).
local function sweep(key, before, state)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', ms(before), 'LIMIT', 0, LIMIT)) do
    local t = load(id)
    if not t or t.state ~= state then
      redis.call('ZREM', key, id)
    else
      settle(t)
    end
  end
end

-- Active tokens past activeUntil are spent.
sweep(K_ACTIVE, NOW, 'a')

-- Waiting and pre-queue tokens not polled for waiting-idle-ttl are dropped (none while the floor
-- is recent; settle keeps a pre-queue closed by a claim until it is placed).
if idle_floor() + IDLE_TTL <= NOW then
  sweep(K_IDLE, NOW - IDLE_TTL, 'w')
  sweep(K_PREQUEUE, NOW - IDLE_TTL, 'p')
  -- Tokens placed by an opening whose last poll before it is idle-ttl old: dropped unless
  -- polled since, else their clock moves to q:idle.
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_IDLE_PLACED, '-inf', ms(NOW - IDLE_TTL), 'LIMIT', 0, LIMIT)) do
    redis.call('ZREM', K_IDLE_PLACED, id)
    local t = load(id)
    if t and t.state == 'w' then
      t = settle(t)
      if t then
        redis.call('ZADD', K_IDLE, 'GT', ms(t.poll or NOW), id)
      end
    end
  end
end

-- Spent tokens past their grace are forgotten.
sweep(K_SPENT, NOW - GRACE, 's')

-- The head of the line into free slots, while admissions are open and the outflow cap allows.
local free = MAX_ACTIVE - redis.call('ZCARD', K_ACTIVE)
local steps = LIMIT
while free > 0 and steps > 0 and admissions_open() do
  steps = steps - 1
  local head = redis.call('ZRANGE', K_WAITING, 0, 0)[1]
  if not head then
    break
  end
  local t = load(head)
  if not t or t.state ~= 'w' then
    redis.call('ZREM', K_WAITING, head)
    redis.call('ZREM', K_IDLE, head)
  else
    t = settle(t)
    if t then
      if not budget_take() then
        break
      end
      activate(t, true)
      free = free - 1
    end
  end
end

redis.call('ZREMRANGEBYSCORE', K_ADMITS, '-inf', ms(NOW - 60000))

local out = redis.call('LPOP', K_CHANGES, MAX_POP)
if not out then
  return {}
end
return out
