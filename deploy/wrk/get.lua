-- GET of the URL wrk was given, with the statuses and percentiles reported.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
require("common")
