-- arg(1) token id: takes back a token whose issue could not be stored.
local t = load(arg(1))
if t then
  erase(t)
end
return 1
