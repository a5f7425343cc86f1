-- Shared by the load kit's wrk scripts: prints one JSON line (requests, latency percentiles in
-- microseconds, statuses, errors) when wrk is done.
--
-- Statuses are counted one by one only for scripts that set `count_statuses` before requiring
-- this file (the booking runs, whose 201s and 409s matter). A `response` function makes wrk
-- keep every body and copy it into Lua: for the 2.3 MB catalog that cost wrk twice the CPU
-- nginx spent serving it, on the cores they share, and capped the ceiling it was measuring.
-- Other runs report wrk's own count of responses outside 2xx and 3xx.
local threads = {}

-- The next of this thread's share of `total` distinct items: thread t of T takes t, t+T, t+2T, ...
-- (set LOAD_THREADS to T), so no two requests name the same item; when all are taken, it wraps.
function next_distinct_index(total)
  next_index = next_index or id
  local index = next_index % total
  next_index = next_index + tonumber(os.getenv("LOAD_THREADS"))
  return index
end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  if init_requests then init_requests(args) end
end

if count_statuses then
  function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local merged = {}
  if not count_statuses then
    merged = {["2xx/3xx"] = summary.requests - summary.errors.status, ["other"] = summary.errors.status}
  end
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[tostring(status)] = (merged[tostring(status)] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do table.insert(parts, string.format('"%s": %d', status, count)) end
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "seconds": %.3f, "p50_us": %d, "p99_us": %d, "statuses": {%s}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), table.concat(parts, ", "),
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
