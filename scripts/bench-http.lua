-- wrk script of scripts/bench-http.sh: POST /create-transaction with the
-- pre-signed bodies of scripts/httpload, one a line, each sent once.
-- Thread t of T sends lines t+1, t+1+T, ... (Lua counts from 1), so with
-- a sender count that is a multiple of T every sender belongs to one
-- thread and its nonces go out in order. Arguments (after wrk's --):
--   1  the bodies file
--   2  threads (wrk's -t)
--   3  mine_every: a GET /mine after every this many transactions per
--      thread, 0 for none
-- Counts statuses and prints each at the end (and the first two bodies of
-- each other status as they come), and "exhausted" if a
-- thread ran out of bodies (it then sends GET /healthz, never a body twice).
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  mine_every = tonumber(args[3])
  bodies = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == id then
      bodies[#bodies + 1] = wrk.format("POST", "/create-transaction", {["Content-Type"] = "application/json"}, line)
    end
    i = i + 1
  end
  next_body = 1
  since_mine = 0
  statuses = {}
  exhausted = 0
  mine_req = wrk.format("GET", "/mine")
  idle_req = wrk.format("GET", "/healthz")
end

function request()
  if not started then
    -- wrk calls the first thread's request() once before the run, to
    -- look for pipelined requests, and never sends what it returns:
    -- that call must not take a body.
    started = true
    return idle_req
  end
  if mine_every > 0 and since_mine >= mine_every then
    since_mine = 0
    return mine_req
  end
  local r = bodies[next_body]
  if r == nil then
    exhausted = exhausted + 1
    return idle_req
  end
  bodies[next_body] = nil
  next_body = next_body + 1
  since_mine = since_mine + 1
  return r
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 201 and status ~= 200 and statuses[status] <= 2 then
    io.write(string.format("thread %d: status %d: %s\n", id, status, body))
  end
end

function done(summary, latency, requests)
  local all = {}
  local ex = 0
  for _, t in ipairs(threads) do
    for code, k in pairs(t:get("statuses")) do
      all[code] = (all[code] or 0) + k
    end
    ex = ex + t:get("exhausted")
  end
  for code, k in pairs(all) do
    io.write(string.format("status %d: %d\n", code, k))
  end
  io.write(string.format("exhausted %d\n", ex))
  io.write(string.format("p50 %.0f us, p99 %.0f us\n", latency:percentile(50), latency:percentile(99)))
end
