-- wrk script: every request holds a different free seat (concert ids and seat counts from the
-- environment), rotating over pre-issued active tokens; counts answers by status.
-- Usage: TOKENS=tokens.txt CONCERTS=1,2,3 SEATS=5000 wrk -t1 -c64 -d5s -s bench/holds.lua URL
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
local concerts = {}
for id in string.gmatch(os.getenv("CONCERTS"), "%d+") do concerts[#concerts + 1] = tonumber(id) end
local seats = tonumber(os.getenv("SEATS") or "5000")
local offset = tonumber(os.getenv("OFFSET") or "0")
local n = 0
local statuses = {}

request = function()
  local k = n + offset
  n = n + 1
  local concert = concerts[(k // seats) % #concerts + 1]
  local seat = k % seats + 1
  local token = tokens[k % #tokens + 1]
  local body = string.format('{"concertId":%d,"seatNumber":%d}', concert, seat)
  return wrk.format("POST", "/api/reservations",
                    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

response = function(status)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary)
  -- wrk runs response() in the thread's own state; with -t1 this table holds every answer.
  for status, count in pairs(statuses) do io.write(string.format("status %d: %d\n", status, count)) end
end
