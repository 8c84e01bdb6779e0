-- wrk: each request adds a new ~300-byte note to one of the pre-created
-- cases bench-1 … bench-N, round-robin per thread.
-- Environment: CASEMESH_TOKEN, BENCH_CASES.
local token = os.getenv("CASEMESH_TOKEN")
local cases = tonumber(os.getenv("BENCH_CASES") or "2000")
dofile("scripts/bench/wrk_common.lua")

function request()
  counter = counter + 1
  local case_id = ((counter * 7 + thread_id * 13) % cases) + 1
  local text = string.format("t%d-%d %s", thread_id, counter, filler):sub(1, 280)
  local body = '{"text":"' .. text .. '","visibility":"internal"}'
  return wrk.format("POST", "/v1/cases/bench-" .. case_id .. "/notes",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
