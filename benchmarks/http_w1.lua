-- wrk script for the HTTP W1 workload (benchmarks/workloads/http_w1.py): every request
-- starts one run and waits for it (POST /v1/workflows/<HTTP_W1_WORKFLOW>/runs?wait=true),
-- with an input of its own; every answer is checked (200 and a completed run).
-- done() sums the threads' checks and prints one JSON line the workload reads.

local threads = {}
local base = tonumber(os.getenv("HTTP_W1_BASE") or "0")
local workflow = os.getenv("HTTP_W1_WORKFLOW") or "bench_w1"

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  bad = 0
  first_bad = ""
  path = "/v1/workflows/" .. workflow .. "/runs?wait=true&timeout=120"
end

function request()
  counter = counter + 1
  local body = string.format('{"input":{"x":%d}}', base + id * 100000000 + counter)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"status":"completed"', 1, true) then
    bad = bad + 1
    if first_bad == "" then
      first_bad = string.format("%d %s", status, string.sub(body, 1, 200))
    end
  end
end

function done(summary, latency, requests)
  local total_bad, first = 0, ""
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
    if first == "" then first = thread:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'HTTP_W1 {"requests":%d,"duration_us":%d,"bad":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"first_bad":%q}\n',
    summary.requests, summary.duration, total_bad, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), first))
end
