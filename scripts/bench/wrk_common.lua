-- Shared by the wrk scripts of scripts/bench-cluster (loaded with dofile
-- from the repository root): numbered threads and the ~280-byte text.
threads = {}
counter = 0
thread_id = 0

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

filler = string.rep("Customer reports intermittent checkout failures; traces attached. ", 5):sub(1, 280)
