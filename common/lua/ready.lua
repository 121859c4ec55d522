-- ready.lua - S_READY (store_ready): a new session, not yet signed in.
-- KEYS: none (see prelude.lua). ARGV: [4] the session's uuid.
-- Reply: the rcg:events id of the newest entry at ready ('0-0' when none):
--        the session receives what comes after it.
-- Writes: userSession.<s>, rcg:session.<s> (no user, no channel; nid:
--        the notices of its user from now on are due, as '<ms>-0').
local s = ARGV[4]
redis.call('SET', 'userSession.' .. s, now(), 'EX', SESS_TTL)
local last = redis.call('XREVRANGE', P .. 'events', '+', '-', 'COUNT', 1)
local sid = '0-0'
if #last > 0 then sid = last[1][1] end
local sk = P .. 'session.' .. s
redis.call('HSET', sk, 'user', '', 'ch', '', 'r', '', 'jn', '0', 'pos', '0',
  'sys', sid, 'nid', now_ms() .. '-0')
redis.call('EXPIRE', sk, SESS_TTL)
return sid
