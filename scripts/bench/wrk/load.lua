-- The load of scripts/bench/throughput.py, for wrk: one script, three ways of asking.
--
--   wrk ... -s load.lua URL -- get  EXPECT                     GET URL; EXPECT: the status every answer must have
--   wrk ... -s load.lua URL -- post EXPECT SCHEME SECRET BODY  POST BODY with "Authorization: SCHEME SECRET"
--   wrk ... -s load.lua URL -- flow SCHEME SECRET JOBS THREADS a new question (POST), then its answer (GET ?wait)
--
-- flow: each POST asks a question never asked before in this run (JOBS, comma-separated job
-- ids, times every limit from 1 to 100; THREADS: wrk's -t), so nothing comes from the result cache; the 202's
-- status_url is then fetched with ?wait=10 on the same connection. `done` prints one line,
-- RESULT={...}, that the bench reads: counts, and wrk's latency percentiles in microseconds.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter - 1)
  table.insert(threads, thread)
end

local mode, expect, headers, body, jobs, nthreads
local pending = {}  -- status URLs answered 202 and not yet fetched
local asked = 0
unexpected, finished, unfinished = 0, 0, 0

function init(args)
  mode = args[1]
  headers = {}
  if mode == "get" then
    expect = tonumber(args[2])
  elseif mode == "post" then
    expect = tonumber(args[2])
    headers["Authorization"] = args[3] .. " " .. args[4]
    headers["Content-Type"] = "application/json"
    body = args[5]
  else
    headers["Authorization"] = args[2] .. " " .. args[3]
    headers["Content-Type"] = "application/json"
    jobs = {}
    for job in string.gmatch(args[4], "%d+") do table.insert(jobs, job) end
    nthreads = tonumber(args[5])
  end
end

function request()
  if mode == "get" then return wrk.format("GET", nil, headers) end
  if mode == "post" then return wrk.format("POST", nil, headers, body) end
  local url = table.remove(pending)
  if url then return wrk.format("GET", url .. "?wait=10", headers) end
  -- Question number q of this run: thread `id` asks q = id, id + threads, id + 2 threads ...
  local q = id + asked * nthreads
  asked = asked + 1
  local job = jobs[(q % #jobs) + 1]
  local limit = (math.floor(q / #jobs) % 100) + 1
  return wrk.format("POST", "/api/v1/jobs/" .. job .. "/recommendations/", headers, '{"limit": ' .. limit .. "}")
end

function response(status, _, answer)
  if mode ~= "flow" then
    if status ~= expect then unexpected = unexpected + 1 end
    return
  end
  if status == 202 then
    local path = string.match(answer, '"status_url": *"https?://[^/"]+(/[^"]*)"')
    if path then table.insert(pending, path) else unexpected = unexpected + 1 end
  elseif status == 200 and string.find(answer, '"status": *"succeeded"') then
    finished = finished + 1
  elseif status == 200 and string.find(answer, '"status": *"[qr][ue][en]') then
    unfinished = unfinished + 1  -- queued or running after the wait: counted apart
  else
    unexpected = unexpected + 1
  end
end

function done(summary, latency, _)
  local u, f, n = 0, 0, 0
  for _, t in ipairs(threads) do
    u = u + t:get("unexpected")
    f = f + t:get("finished")
    n = n + t:get("unfinished")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT={"requests": %d, "duration_us": %d, "unexpected": %d, "finished": %d, "unfinished": %d, '
      .. '"socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, u, f, n, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
