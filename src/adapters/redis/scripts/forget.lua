-- ARGV[6] token id: takes back a token whose issue could not be stored.
local t = load(ARGV[6])
if t then
  erase(t)
end
return 1
