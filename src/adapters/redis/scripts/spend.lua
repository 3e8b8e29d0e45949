-- arg(1) token id: its user paid (already stored); the slot is free at once.
if line_lost() then
  return redis.error_reply(LINE_LOST)
end
local t = load(arg(1))
if t and t.state == 'a' then
  mark_spent(t, NOW)
end
return 1
