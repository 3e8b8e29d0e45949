-- The opening (API.md, "Pre-queue"), in two steps that several instances may race for:
--   arg(1) 'claim', arg(2) the caller's seed, arg(3) the lease in ms, and when the store recorded
--     a claim of this opening that was never written (Redis lost it since), arg(4) its seed,
--     arg(5) its first seq, arg(6) its block size: claims the due opening. Closes the pre-queue
--     (renamed to q:opening_ids), reserves its block of seqs behind every waiting token and ahead
--     of every later arrival, keeps the seed. Returns {opensAt, seed, first seq, block size}
--     (the caller reads the ids from q:opening_ids in pieces: one reply of 100,000 would hold
--     Redis for ~100 ms), or false when nothing is due or another caller holds the lease. An
--     opening whose lease ran out is handed out again as it was: same seed, block and ids.
--   arg(1) 'place', arg(2) the opening's opensAt, arg(3) the seq of the slice's first id,
--     arg(4) '1' for the last slice, ids from arg(5) in drawn order: places them. Safe to repeat.
--     A placed token's hash keeps state p: load() reads it as waiting at its score in q:waiting,
--     and its idle clock stays its score in q:opening_ids, which the last slice renames to
--     q:idle_placed for the tick to fold into q:idle a bounded step at a time; so a slice is two
--     variadic commands instead of five calls per token, and no step blocks Redis for long.
if arg(1) == 'claim' then
  local o = redis.call('HMGET', K_OPENING, 'for', 'seed', 'first', 'lease')
  if o[1] then
    if tonumber(o[4]) > NOW then
      return false
    end
    redis.call('HSET', K_OPENING, 'lease', ms(NOW + tonumber(arg(3))))
    return {o[1], o[2], o[3], redis.call('HGET', K_OPENING, 'n')}
  end
  if OPENS_AT < 0 or OPENS_AT > NOW or OPENED_FOR == OPENS_AT
      or tonumber(redis.call('GET', K_OPENED_FOR)) == OPENS_AT then
    return false
  end
  local n = redis.call('ZCARD', K_PREQUEUE)
  if n > 0 then
    redis.call('RENAME', K_PREQUEUE, K_OPENING_IDS)
  end
  local seed, first, block = arg(2), nil, n
  if arg(4) then
    seed, first, block = arg(4), tonumber(arg(5)), math.max(n, tonumber(arg(6)))
    if tonumber(redis.call('GET', K_SEQ)) < first + block - 1 then
      redis.call('SET', K_SEQ, ms(first + block - 1))
    end
  else
    first = redis.call('INCRBY', K_SEQ, n) - n + 1
  end
  redis.call('HSET', K_OPENING, 'for', ms(OPENS_AT), 'seed', seed, 'first', ms(first), 'n', ms(block), 'unplaced', n,
             'lease', ms(NOW + tonumber(arg(3))))
  return {ms(OPENS_AT), seed, ms(first), ms(block)}
end

-- place
local opening_for = redis.call('HGET', K_OPENING, 'for')
if not opening_for or opening_for ~= arg(2) then
  return 0  -- placed already
end
local first = tonumber(arg(3))
local ids = {}
for i = 5, #ARGV - COMMON do
  ids[#ids + 1] = arg(i)
end
local placed = 0
if #ids > 0 then
  -- Only ids still in the closed pre-queue (a token dropped since is skipped); ZADD counts only
  -- new members, so a slice placed twice is counted once.
  local member = redis.call('ZMSCORE', K_OPENING_IDS, unpack(ids))
  local waiting = {}
  for k, id in ipairs(ids) do
    if member[k] then
      waiting[#waiting + 1] = ms(first + k - 1)
      waiting[#waiting + 1] = id
    end
  end
  if #waiting > 0 then
    placed = redis.call('ZADD', K_WAITING, 'NX', unpack(waiting))
  end
end
-- Only when something was placed: a slice placed again (a redo after a restart) places 0, and
-- Redis writes the Lua number -0 as "-0", which HINCRBY refuses ("value is not an integer").
if placed > 0 then
  redis.call('HINCRBY', K_OPENING, 'unplaced', -placed)
end
if arg(4) == '1' then
  if redis.call('EXISTS', K_OPENING_IDS) == 1 then
    if redis.call('EXISTS', K_IDLE_PLACED) == 0 then
      redis.call('RENAME', K_OPENING_IDS, K_IDLE_PLACED)
    else
      -- The last opening's clocks are not all folded yet (openings minutes apart): merge.
      redis.call('ZUNIONSTORE', K_IDLE_PLACED, 2, K_IDLE_PLACED, K_OPENING_IDS, 'AGGREGATE', 'MAX')
    end
  end
  redis.call('SET', K_OPENED_FOR, opening_for)
  redis.call('DEL', K_OPENING, K_OPENING_IDS)
end
return placed
