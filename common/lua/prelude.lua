-- prelude.lua - what every script of common/lua/ shares: the key prefix,
-- TTLs and limits, and the helpers (access key, session, users record,
-- events stream, channels, userinfo).
--
-- KEYS: none. Key names are built from ARGV, like the original's keys
--       (standalone Redis or Sentinel; not Cluster-safe).
-- ARGV: [1] access key TTL (s), [2] session TTL (s), [3] rcg:events
--       MAXLEN (~); store.c sends these three first for every script, so
--       an operation's own arguments start at ARGV[4].
--
-- How a script is sent (tools/lua2c.sh builds it; the result is
-- build/gen/lua/<operation>.lua):
--   line 1      local <every top-level name below>; local function main()
--               followed by the operation's line 1
--   lines 2..N  the rest of the operation, line for line
--   line N+1    end
--   then        this file, each top-level `local` dropped (the names are
--               declared on line 1), and `return main()`.
-- So a line number in a Redis error is the operation file's own when it is
-- at most N; past that it is line (L - N - 1) of this file. The operation
-- runs as a closure over these names, called after they are all set.
-- Only `local NAME... =` and `local function NAME` may start a line here
-- at the top level (lua2c.sh refuses anything else beginning with local).

local P = 'rcg:'
local CID_TTL = 600 -- a clientId answers retries for 10 minutes
-- sign-in attempts: CHAT_SIGNIN_FAILS per name and client address per
-- FAIL_WINDOW; past NAME_FACTOR times that in failures of the name
-- (from anywhere), one attempt per SLOW_GAP seconds
local FAIL_WINDOW, NAME_FACTOR, SLOW_GAP = 300, 10, 10
-- userStatus.<uuid> exists while its user is online: set by a sign-in
-- and by polls, so a poll held up to 55 s keeps it alive
local STATUS_TTL = 60
-- a poll refreshes presence and the session's TTLs at most once per
-- REFRESH seconds: a write is what AOF and replicas pay for, a TTL read
-- is not
local REFRESH = 10
-- an access key's idle expiry slides at most once per KEY_SLIDE seconds
local KEY_SLIDE = 60
-- private-message notices kept per user (rcg:notice.<uid>, MAXLEN ~)
local NOTICE_MAXLEN = 100
local KEY_TTL, SESS_TTL, MAXLEN = ARGV[1], ARGV[2], ARGV[3]

-- TIME as the original writes it: "<seconds>.<microseconds>"
local function now()
  local t = redis.call('TIME')
  return t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
end

-- TIME in milliseconds, as a decimal string (a stream id's first part)
local function now_ms()
  local t = redis.call('TIME')
  return t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
end

-- rcg:key.<k> holds "uid<TAB>name" (a bare uid from before is read too).
-- The idle expiry slides at most once per KEY_SLIDE: a refresh is a write
-- that AOF and replicas pay for, a TTL read is not. Returns uid, nil, name
-- (nil when not stored), or nil and the error.
local function auth(key, claimed)
  if key == '' then return nil, 'CHAT401:key' end
  local k = P .. 'key.' .. key
  local v = redis.call('GET', k)
  if not v then return nil, 'CHAT401:key' end
  if redis.call('TTL', k) < tonumber(KEY_TTL) - KEY_SLIDE then
    redis.call('EXPIRE', k, KEY_TTL) end
  local uid, name = string.match(v, '^([^\t]+)\t(.*)$')
  if not uid then uid = v end
  if claimed ~= '' and claimed ~= uid then return nil, 'CHAT403:user' end
  return uid, nil, name
end

-- the users record of a uuid, or false
local function user_json(u)
  local i = redis.call('GET', 'usersUUIDListIndex.' .. u)
  if not i then return false end
  return redis.call('LINDEX', 'users', i)
end

-- A string field of a stored record: a plain match for the common case (no
-- escapes in the value), cjson for the rest.
local pats = {}
local function field(j, name)
  local p = pats[name]
  if not p then p = '"' .. name .. '":"([^"\\]*)"'; pats[name] = p end
  local v = string.match(j, p)
  if v then return v end
  local ok, t = pcall(cjson.decode, j)
  if ok and type(t) == 'table' and type(t[name]) == 'string' then
    return t[name] end
  return false
end

local function user_name(j)
  if not j then return '' end
  return field(j, 'Username') or ''
end

-- rcg:session.<s> when it is free or uid's, or nil and the error
local function session_of(s, uid)
  local sk = P .. 'session.' .. s
  local owner = redis.call('HGET', sk, 'user')
  if not owner then return nil, 'CHAT404:session' end
  if owner ~= '' and owner ~= uid then return nil, 'CHAT403:session' end
  return sk
end

-- the record of uid becomes json and its hash pw goes to rcg:pw.<uid>,
-- when the record is still old: 1, else 0 (nothing written)
local function move_hash(uid, old, json, pw)
  local i = redis.call('GET', 'usersUUIDListIndex.' .. uid)
  if not i or redis.call('LINDEX', 'users', i) ~= old then return 0 end
  redis.call('SET', P .. 'pw.' .. uid, pw)
  redis.call('LSET', 'users', i, json)
  return 1
end

-- SET k value EX ttl (value nil: EXPIRE k ttl) unless k's TTL is still
-- within REFRESH seconds of ttl
local function refresh(k, ttl, value)
  if redis.call('TTL', k) >= tonumber(ttl) - REFRESH then return end
  if value then redis.call('SET', k, value, 'EX', ttl)
  else redis.call('EXPIRE', k, ttl) end
end

-- an event for the pollers: XADD rcg:events, then PUBLISH rcg:wake
local function emit(scope, t, u, n, r)
  redis.call('XADD', P .. 'events', 'MAXLEN', '~', MAXLEN, '*',
    's', scope, 't', t, 'u', u, 'n', n, 'r', r)
  redis.call('PUBLISH', P .. 'wake', scope)
end

-- Unread counts: rcg:read.<uid> holds, per channel the user has, the
-- position of channelMessages.<ch> it has read to; its field is the
-- channel as the user names it: 'public', or the other member's uuid.
local function read_field(rcpt)
  if rcpt == '' then return 'public' end
  return rcpt
end

-- uid has read the channel it names rcpt up to pos (never backwards:
-- another session of the user may have read further)
local function read_to(uid, rcpt, pos)
  local k, f = P .. 'read.' .. uid, read_field(rcpt)
  if pos > (tonumber(redis.call('HGET', k, f)) or -1) then
    redis.call('HSET', k, f, pos)
  end
end

-- uid has read channel ch (named rcpt) to its end: a join, and a session
-- that stops following it (the poller may have answered the session's
-- last polls from its cache, which moves no read position)
local function read_all(uid, rcpt, ch)
  read_to(uid, rcpt, redis.call('LLEN', 'channelMessages.' .. ch))
end

-- A private message's notice for its recipient: XADD rcg:notice.<rcpt>
-- (the sender, the recipient as the sender named it, the message's uuid;
-- never the text), kept as long as a session could still be behind it.
-- The caller wakes the pollers (PUBLISH rcg:wake u.<rcpt>) once.
local function notice(rcpt, uid, name, mid)
  local k = P .. 'notice.' .. rcpt
  redis.call('XADD', k, 'MAXLEN', '~', NOTICE_MAXLEN, '*',
    't', 'channelMessage', 'u', uid, 'n', name, 'r', rcpt, 'm', mid)
  redis.call('EXPIRE', k, SESS_TTL)
end

-- the private channel of a and b (either way round); a new one is newid,
-- or false when newid is ''
local function private_channel(a, b, newid)
  local c = redis.call('GET', 'channelSenderRecipient.' .. a .. '.' .. b)
  if c then return c end
  c = redis.call('GET', 'channelSenderRecipient.' .. b .. '.' .. a)
  if c then return c end
  if newid == '' then return false end
  redis.call('SET', 'channelSenderRecipient.' .. a .. '.' .. b, newid)
  redis.call('SET', 'channelSenderRecipient.' .. b .. '.' .. a, newid)
  return newid
end

-- 'public' for rcpt '', else the private channel (see private_channel);
-- nil and the error when rcpt is no user
local function channel_of(uid, rcpt, newid)
  if rcpt == '' then return 'public' end
  if redis.call('EXISTS', 'usersUUIDListIndex.' .. rcpt) == 0 then
    return nil, 'CHAT404:recipient' end
  return private_channel(uid, rcpt, newid)
end

-- userinfo: flat {uuid, name|false, online} for members and the
-- senders/recipients of the given stored messages.
local function userinfo(uuids, msgs)
  local want, seen, out = {}, {}, {}
  local function add(u)
    if type(u) == 'string' and u ~= '' and not seen[u] then
      seen[u] = true; want[#want + 1] = u end
  end
  for _, u in ipairs(uuids) do add(u) end
  for _, m in ipairs(msgs) do
    add(field(m, 'SenderUUID')); add(field(m, 'RecipientUUID'))
  end
  for _, u in ipairs(want) do
    local j = user_json(u)
    out[#out + 1] = u; out[#out + 1] = j and field(j, 'Username')
    out[#out + 1] = redis.call('EXISTS', 'userStatus.' .. u)
  end
  return out
end

-- chk_before: the cursor check of channelMessages.<ch> at pos: the first
-- 8 hex digits of the SHA-1 of the element at pos - 1 (cursor.h), '' at 0.
local function chk_before(ch, pos)
  if pos <= 0 then return '' end
  local e = redis.call('LINDEX', 'channelMessages.' .. ch, pos - 1)
  if not e then return '' end
  return string.sub(redis.sha1hex(e), 1, 8)
end
