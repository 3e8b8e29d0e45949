-- arg(1) '1' for the first chunk, arg(2) the highest stored seq, then 7 fields per stored token
-- from arg(3): id, user, seq, state (w/a/s/p), issued, until, spent ('' when none).
-- Returns 0 when Redis already holds the line: it is ahead of the store, so it stays as it is.
if arg(1) == '1' then
  -- Every idle clock starts afresh: nobody could poll this instance while it was down.
  redis.call('SET', K_FLOOR, ms(NOW))
  if redis.call('EXISTS', K_SEQ) == 1 then
    return 0
  end
  redis.call('SET', K_SEQ, arg(2))
end
for i = 3, #ARGV - COMMON - 6, 7 do
  local id, user, seq, state = arg(i), arg(i + 1), arg(i + 2), arg(i + 3)
  local issued, active_until, spent = arg(i + 4), arg(i + 5), arg(i + 6)
  if redis.call('EXISTS', tok_key(id)) == 0 then
    if state == 'w' then
      redis.call('HSET', tok_key(id), 'user', user, 'seq', seq, 'state', 'w', 'issued', issued, 'poll', ms(NOW))
      redis.call('ZADD', K_WAITING, seq, id)
      redis.call('ZADD', K_IDLE, ms(NOW), id)
      redis.call('SET', user_key(user), id)
    elseif state == 'p' then
      redis.call('HSET', tok_key(id), 'user', user, 'seq', seq, 'state', 'p', 'issued', issued, 'poll', ms(NOW))
      redis.call('ZADD', K_PREQUEUE, ms(NOW), id)
      redis.call('SET', user_key(user), id)
    elseif state == 'a' then
      redis.call('HSET', tok_key(id), 'user', user, 'seq', seq, 'state', 'a', 'issued', issued, 'until', active_until)
      redis.call('ZADD', K_ACTIVE, active_until, id)
      redis.call('SET', user_key(user), id)
    elseif state == 's' then
      redis.call('HSET', tok_key(id), 'user', user, 'seq', seq, 'state', 's', 'issued', issued, 'spent', spent)
      if active_until ~= '' then
        redis.call('HSET', tok_key(id), 'until', active_until)
      end
      redis.call('ZADD', K_SPENT, spent, id)
    end
  end
end
return 1
