-- KEYS[1] the seat lock, ARGV[1] its owner: only the owner's lock is released.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
