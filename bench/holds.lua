-- wrk script: every request holds a different free seat (concert ids and seat counts from the
-- environment), rotating over pre-issued active tokens. OFFSET shifts the seats (several wrk at once).
-- Usage: TOKENS=tokens.txt CONCERTS=1,2,3 SEATS=5000 wrk -t1 -c64 -d5s -s bench/holds.lua URL
-- RATE and CONNS set: each connection waits CONNS*1000/RATE ms between requests (paced near RATE/s).
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local concerts = {}
for id in string.gmatch(os.getenv("CONCERTS"), "%d+") do concerts[#concerts + 1] = tonumber(id) end
local seats = tonumber(os.getenv("SEATS") or "5000")
local offset = tonumber(os.getenv("OFFSET") or "0")
local n = 0
request = function()
  local k = n + offset
  n = n + 1
  local concert = concerts[math.floor(k / seats) % #concerts + 1]
  local seat = k % seats + 1
  local token = tokens[k % #tokens + 1]
  local body = string.format('{"concertId":%d,"seatNumber":%d}', concert, seat)
  return wrk.format("POST", "/api/reservations",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

local rate = tonumber(os.getenv("RATE") or "")
local conns = tonumber(os.getenv("CONNS") or "")
if rate and conns and rate > 0 then
  local interval = math.max(1, math.floor(conns * 1000 / rate + 0.5))
  delay = function() return interval end
end
