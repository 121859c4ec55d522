-- hold_take.lua - S_HOLD_TAKE (store_hold_take): a slot for a poll that
-- chat.fcgi holds itself (CHAT_POLL_HOLD_SLOTS); ZREM gives it back.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] a token, [5] the hold's seconds, [6] the slot count.
-- Reply: 1 (rcg:holds has the token until now + hold) or 0 (all taken).
-- Writes: rcg:holds (expired holders dropped first).
local k, token, hold, max = P .. 'holds', ARGV[4], tonumber(ARGV[5]),
  tonumber(ARGV[6])
local t = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', k, '-inf', t)
if redis.call('ZCARD', k) >= max then return 0 end
redis.call('ZADD', k, t + hold, token)
if redis.call('TTL', k) < hold then redis.call('EXPIRE', k, hold) end
return 1
