-- json-errors.lua - lighttpd (mod_magnet, magnet.attract-response-start-to):
-- every error lighttpd answers itself is the contract's JSON error, never
-- its HTML page: a backend (chat.fcgi, chat-poller) down, restarting,
-- dead in the middle of a request or too slow (502/503/504, with
-- Retry-After), a request it refuses before any backend sees it (400
-- malformed, 408, 413, 414, 431, 501 ...), and an address over its
-- connection limit (429, per-ip-limit.lua).
-- The bodies are the files beside this script (<status>.json, the same
-- ones Apache's ErrorDocument and nginx's error_page send); a status
-- without one gets 400.json or 503.json by its class, keeping its status.
-- Answers that already are JSON (the gateway's and the poller's own
-- errors) and every answer below 400 go out untouched.
local r = lighty.r
local status = r.req_item.http_status
if status < 400 then
  return 0
end
local ctype = r.resp_header["Content-Type"]
if ctype and ctype:find("^application/json") then
  return 0
end
-- lighttpd's own 500 on a backend route means the backend died before it
-- answered (killed, restarting): a 502 the client may retry, not a fault
-- of its request
local path = (r.req_attr["request.orig-uri"] or ""):match("^[^?]*")
if status == 500 and (path:match("^/api$") or path:match("^/health$")
    or path:match("^/poll$") or path:match("^/events$")
    or path:match("^/metrics$") or path:match("^/cgi%-bin/chat%.cgi")) then
  status = 502
end

-- (mod_magnet names the chunk by its path, without Lua's "@")
local dir = debug.getinfo(1, "S").source:match("^@?(.*/)") or "./"

local function read(name)
  local f = io.open(dir .. name .. ".json", "rb")
  if not f then
    return nil
  end
  local body = f:read("a")
  f:close()
  return body
end

local body = read(tostring(status))
  or read(status >= 500 and "503" or "400")
  or '{"type":"error","error":{"code":222,"error":"internal error","message":"internal error"}}\n'
r.resp_body:set({ body })
r.resp_header["Content-Type"] = "application/json"
r.resp_header["Cache-Control"] = "no-store"
-- a backend that is away comes back by itself (lighttpd respawns
-- chat.fcgi, retries a backend a second after a failure); an address over
-- its connection limit (per-ip-limit.lua) waits for some to close
if status == 502 or status == 503 or status == 504 then
  r.resp_header["Retry-After"] = "1"
elseif status == 429 then
  r.resp_header["Retry-After"] = "5"
end
-- returning the status ends the response with this body
return status
