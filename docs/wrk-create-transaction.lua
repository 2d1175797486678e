-- wrk script for docs/benchmarks.md ("HTTP: create-transaction throughput"):
-- POST /create-transaction from a distinct sender per request against a
-- node on the open network (unsigned, any sender name, nonce drawn by the
-- node), and GET /mine every mine_every requests per thread so the
-- mempool (10,000) never fills. Counts statuses; prints each at the end.
local threads = {}
local mine_every = 2500

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  statuses = {}
  mine_req = wrk.format("GET", "/mine")
end

function request()
  n = n + 1
  if n % mine_every == 0 then
    return mine_req
  end
  local body = string.format('{"sender":"load-%d-%d","recipient":"sink","amount":1}', id, n)
  return wrk.format("POST", "/create-transaction", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for code, k in pairs(t:get("statuses")) do
      all[code] = (all[code] or 0) + k
    end
  end
  for code, k in pairs(all) do
    io.write(string.format("status %d: %d\n", code, k))
  end
  io.write(string.format("p50 %.0f us, p99 %.0f us\n", latency:percentile(50), latency:percentile(99)))
end
