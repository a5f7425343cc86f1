-- wrk script of the overload test: one request over and over (OVERLOAD_METHOD, OVERLOAD_PATH,
-- OVERLOAD_BODY as JSON), every answer's status counted (common.lua prints them when done). A 503
-- is counted as "503" only when it is nginx's JSON error page with Retry-After, else "503 other".
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "../../deploy/wrk/?.lua"
count_statuses = true
require("common")

local method = os.getenv("OVERLOAD_METHOD") or "GET"
local path = os.getenv("OVERLOAD_PATH")
local body = os.getenv("OVERLOAD_BODY")
local shed_body = os.getenv("OVERLOAD_SHED_BODY")

function request()
  if body then
    return wrk.format(method, path, {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format(method, path)
end

function response(status, headers, answer)
  local key = status
  if status == 503 and not (answer == shed_body and headers["Retry-After"]) then key = "503 other" end
  statuses[key] = (statuses[key] or 0) + 1
end
