-- ARGV[6] token id, ARGV[7] '1' when this counts as a poll. Nil when unknown or gone.
if line_lost() then
  return redis.error_reply(LINE_LOST)
end
local t = load(ARGV[6])
if t then
  t = settle(t)
end
if not t then
  return false
end
if ARGV[7] == '1' and t.state == 'w' then
  touch(t)
end
return view(t, false)
