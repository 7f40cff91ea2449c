-- wrk script: HTTP/1.1 pipelining. Every write carries PIPELINE_DEPTH
-- requests for the URL's path (default 16); wrk counts each response.
--   PIPELINE_DEPTH=24 wrk -t1 -c100 -d10s -s bench/pipeline.lua http://127.0.0.1:8080/plaintext

local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")
local batch

init = function(args)
   local reqs = {}
   for i = 1, depth do
      reqs[i] = wrk.format()
   end
   batch = table.concat(reqs)
end

request = function()
   return batch
end
