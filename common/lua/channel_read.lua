-- channel_read.lua - S_CHANNEL_READ (store_channel_read): a channel's
-- messages from a position; read only (the poller's fan-out: one read
-- answers every parked poll of the channel).
-- KEYS: none (see prelude.lua).
-- ARGV: [4] channel id, [5] first position, [6] count.
-- Reply: {llen, {message...}, userinfo}.
local ch, from, count = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local n = redis.call('LLEN', 'channelMessages.' .. ch)
local msgs = {}
if from < n and count > 0 then
  msgs = redis.call('LRANGE', 'channelMessages.' .. ch, from,
    from + count - 1)
end
return {n, msgs, userinfo({}, msgs)}
