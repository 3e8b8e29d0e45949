-- ARGV[6] token id, ARGV[7] user, ARGV[8] issued at: the user's live token (a poll), or the new
-- one at the back of the line, active at once when a slot is free and nobody waits.
if line_lost() then
  return redis.error_reply(LINE_LOST)
end
local id, user, issued = ARGV[6], ARGV[7], tonumber(ARGV[8])
local live = redis.call('GET', user_key(user))
if live then
  local t = load(live)
  if t then
    t = settle(t)
  end
  if t and t.state ~= 's' then
    if t.state == 'w' then
      touch(t)
    end
    return view(t, false)
  end
end
local seq = redis.call('INCR', K_SEQ)
local t = {id = id, user = user, seq = seq, state = 'w', issued = issued, poll = NOW}
redis.call('HSET', tok_key(id), 'user', user, 'seq', seq, 'state', 'w', 'issued', ms(issued), 'poll', ms(NOW))
redis.call('SET', user_key(user), id)
if redis.call('ZCARD', K_WAITING) == 0 and redis.call('ZCARD', K_ACTIVE) < MAX_ACTIVE then
  -- The issue itself is stored with this state: no change to hand out.
  activate(t, false)
else
  redis.call('ZADD', K_WAITING, seq, id)
  redis.call('ZADD', K_IDLE, ms(NOW), id)
end
return view(t, true)
