-- POST /book of distinct slots: thread t of T books slot numbers t, t+T, t+2T, ... of the flat
-- list of (service, slot) pairs the load kit seeded, so no pair is ever sent twice.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
count_statuses = true
require("common")

local services = tonumber(os.getenv("LOAD_SERVICES"))
local slots_per_service = tonumber(os.getenv("LOAD_SLOTS"))
local prefix = os.getenv("LOAD_PREFIX")
local first_slot = tonumber(os.getenv("LOAD_FIRST_SLOT"))  -- epoch seconds of slot 0

function request()
  local index = next_distinct_index(services * slots_per_service)  -- exhausted: 409s
  local service = math.floor(index / slots_per_service)
  local slot = os.date("!%Y-%m-%dT%H:%M:%SZ", first_slot + (index % slots_per_service) * 60)
  local body = string.format('{"service_id":"%s-%d","slot":"%s","user_name":"load %d"}', prefix, service, slot, index)
  return wrk.format("POST", "/book", {["Content-Type"] = "application/json"}, body)
end
