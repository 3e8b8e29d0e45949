-- arg(1) token id, arg(2) '1' when this counts as a poll, '2' for a status poll: counted as a
-- poll, and a waiting token's view is followed by the line's counts (as stats.lua gives them),
-- taken in the same script so that a fan's poll is one round trip. Nil when unknown or gone.
if line_lost() then
  return redis.error_reply(LINE_LOST)
end
local t = load(arg(1))
if t then
  t = settle(t)
end
if not t then
  return false
end
if arg(2) ~= '0' and (t.state == 'w' or t.state == 'p') then
  touch(t)
end
local v = view(t, false)
if arg(2) == '2' and t.state == 'w' then
  v[10] = redis.call('ZCARD', K_WAITING)
  v[11] = redis.call('ZCARD', K_ACTIVE)
  v[12] = redis.call('ZCOUNT', K_ADMITS, '(' .. ms(NOW - 60000), '+inf')
end
return v
