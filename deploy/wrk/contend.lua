-- POST /book where every connection fights over the same few slots of one service.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
count_statuses = true
require("common")

local service = os.getenv("LOAD_SERVICE")
local slot_count = tonumber(os.getenv("LOAD_SLOTS"))
local first_slot = tonumber(os.getenv("LOAD_FIRST_SLOT"))

function init_requests(args)
  math.randomseed(id * 7919 + os.time())
end

function request()
  local slot = os.date("!%Y-%m-%dT%H:%M:%SZ", first_slot + math.random(0, slot_count - 1) * 60)
  local body = string.format('{"service_id":"%s","slot":"%s","user_name":"contender"}', service, slot)
  return wrk.format("POST", "/book", {["Content-Type"] = "application/json"}, body)
end
