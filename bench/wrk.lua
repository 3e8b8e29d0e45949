-- wrk script for the read and token paths of bench/run.py.
-- USER_PREFIX set: every request is POST {"userId":"<prefix>-<n>"} (a new user each time, so
--   that every request issues a token); the method and path are the URL's path.
-- RATE and CONNS set: each connection waits CONNS*1000/RATE ms between its requests, pacing the
--   total near RATE req/s (a closed-loop stand-in for `concertd bench --rate`; the achieved rate
--   is what wrk reports).
local prefix = os.getenv("USER_PREFIX")
local rate = tonumber(os.getenv("RATE") or "")
local conns = tonumber(os.getenv("CONNS") or "")
local n = 0

if prefix then
  request = function()
    n = n + 1
    local body = string.format('{"userId":"%s-%d"}', prefix, n)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
  end
end

if rate and conns and rate > 0 then
  local interval = math.max(1, math.floor(conns * 1000 / rate + 0.5))
  delay = function() return interval end
end
