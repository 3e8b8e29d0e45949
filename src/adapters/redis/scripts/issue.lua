-- arg(1) token id, arg(2) user, arg(3) issued at: the user's live token (a poll), or the new one:
-- in the pre-queue before the opening, else at the back of the line, active at once when a slot
-- is free, nobody waits and admissions are open.
if line_lost() then
  return redis.error_reply(LINE_LOST)
end
local id, user, issued = arg(1), arg(2), tonumber(arg(3))
local live = redis.call('GET', user_key(user))
if live then
  local t = load(live)
  if t then
    t = settle(t)
  end
  if t and t.state ~= 's' then
    if t.state == 'w' or t.state == 'p' then
      touch(t)
    end
    return view(t, false)
  end
end
local seq = redis.call('INCR', K_SEQ)
local state = pre_queue_mode() and 'p' or 'w'
local t = {id = id, user = user, seq = seq, state = state, issued = issued, poll = NOW}
redis.call('HSET', tok_key(id), 'user', user, 'seq', seq, 'state', state, 'issued', ms(issued), 'poll', ms(NOW))
redis.call('SET', user_key(user), id)
if state == 'p' then
  redis.call('ZADD', K_PREQUEUE, ms(NOW), id)
elseif redis.call('ZCARD', K_WAITING) == 0 and redis.call('ZCARD', K_ACTIVE) < MAX_ACTIVE and admissions_open()
    and budget_take() then
  -- The issue itself is stored with this state: no change to hand out.
  activate(t, false)
else
  redis.call('ZADD', K_WAITING, seq, id)
  redis.call('ZADD', K_IDLE, ms(NOW), id)
end
return view(t, true)
