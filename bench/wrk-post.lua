-- wrk-post.lua: POST $BODY to the URL, with $KEY as the Bearer access key;
-- counts non-2xx answers so a run that only measured errors is visible.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

local bad = 0
function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.stderr:write(string.format("non-2xx: %d\n", bad))
end
