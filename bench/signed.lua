-- wrk script: replays pre-signed webhook requests from the file in $BENCH_REQUEST_FILE.
-- Lines are "path<TAB>webhook-id<TAB>timestamp<TAB>signature<TAB>json body", signed in Python
-- (HMAC in Lua is hard). Thread k of n sends lines k, k+n, k+2n, ... once each (it wraps only if
-- it runs out, and reports that), and counts answers by status.
local file = os.getenv("BENCH_REQUEST_FILE")
local nthreads = tonumber(os.getenv("BENCH_WRK_THREADS") or "2")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  thread:set("nthreads", nthreads)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  reqs = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local path, wid, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {
        ["Host"] = wrk.host, ["Content-Type"] = "application/json",
        ["webhook-id"] = wid, ["webhook-timestamp"] = ts, ["webhook-signature"] = sig}, body)
    end
    i = i + 1
  end
  idx = 0
  wrapped = 0
  statuses = {}
end

function request()
  idx = idx + 1
  if idx > #reqs then
    idx = 1
    wrapped = wrapped + 1
  end
  return reqs[idx]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  local wraps = 0
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do counts[k] = (counts[k] or 0) + v end
    wraps = wraps + t:get("wrapped")
  end
  local parts = {}
  for k, v in pairs(counts) do parts[#parts + 1] = string.format('"%s": %d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"socket_errors": %d, "wrapped": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, wraps, table.concat(parts, ", ")))
end
