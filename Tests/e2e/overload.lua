-- wrk script of the overload test: one request over and over (OVERLOAD_METHOD, OVERLOAD_PATH,
-- OVERLOAD_BODY as JSON), every answer's status counted (common.lua prints them when done).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "../../deploy/wrk/?.lua"
count_statuses = true
require("common")

local method = os.getenv("OVERLOAD_METHOD") or "GET"
local path = os.getenv("OVERLOAD_PATH")
local body = os.getenv("OVERLOAD_BODY")

function request()
  if body then
    return wrk.format(method, path, {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format(method, path)
end
