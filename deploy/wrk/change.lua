-- Cancels or moves distinct bookings that the load kit stored beforehand: thread t of T takes
-- bookings t, t+T, t+2T, ... of the flat list of (service, booking) pairs, so none is changed
-- twice. Booking k of service s is `{prefix}-{s}-{k}` at slot 2k, managed by the token
-- `load-{s}-{k}`; a move goes to slot 2k+1, which is free.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
count_statuses = true
require("common")

local action = os.getenv("LOAD_ACTION")  -- cancel or reschedule
local services = tonumber(os.getenv("LOAD_SERVICES"))
local per_service = tonumber(os.getenv("LOAD_BOOKINGS"))
local prefix = os.getenv("LOAD_PREFIX")
local first_slot = tonumber(os.getenv("LOAD_FIRST_SLOT"))  -- epoch seconds of slot 0

function request()
  local index = next_distinct_index(services * per_service)  -- exhausted: the same answers again
  local service, booking = math.floor(index / per_service), index % per_service
  local headers = {["Authorization"] = string.format("Bearer load-%d-%d", service, booking)}
  local path = string.format("/bookings/%s-%d-%d", prefix, service, booking)
  if action == "cancel" then
    return wrk.format("DELETE", path, headers)
  end
  headers["Content-Type"] = "application/json"
  local slot = os.date("!%Y-%m-%dT%H:%M:%SZ", first_slot + (2 * booking + 1) * 60)
  return wrk.format("POST", path .. "/reschedule", headers, string.format('{"slot":"%s"}', slot))
end
