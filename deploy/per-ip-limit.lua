-- per-ip-limit.lua - lighttpd (mod_magnet, magnet.attract-raw-url-to): at
-- most CHAT_MAX_CONNS_PER_IP (default 1000) open connections from one
-- client address. lighttpd 1.4.69 has no mod_evasive any more (its
-- evasive.max-conns-per-ip); this is the same rule: a request arriving on a
-- connection from an address that already holds more is answered 429
-- (JSON code 226 from deploy/errors/429.json, Retry-After) and its
-- connection closed, so one client cannot take the server's connections
-- (server.max-connections) from everyone else. Connections still sending
-- their request head count against their address too; they are closed by
-- server.max-read-idle.
-- The count costs one look at the server's open connections until there
-- are more than the limit in all; only then are they scanned.
local limit = tonumber(os.getenv("CHAT_MAX_CONNS_PER_IP") or "") or 1000
if lighty.server.stats["clients_open"] <= limit then
  return 0
end

local r = lighty.r
local addr = r.req_attr["request.remote-addr"]
local n = 0
for other in lighty.server.irequests() do
  if other.req_attr["request.remote-addr"] == addr then
    n = n + 1
    if n > limit then
      -- answered by deploy/errors/json-errors.lua; the connection closes
      r.req_item.keep_alive = 0
      return 429
    end
  end
end
return 0
