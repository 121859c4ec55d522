-- channel_read.lua - S_CHANNEL_READ (store_channel_read): a channel's
-- messages from a position; read only (the poller's fan-out: one read
-- answers every parked poll of the channel).
-- KEYS: none (see prelude.lua).
-- ARGV: [4] channel id, [5] first position, [6] count.
-- Reply: {llen, {message...}, userinfo, check}: check = chk_before of the
--        first position ('' at 0), so the room can tell the list it holds
--        from one that lost or rewrote an element.
local ch, from, count = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local n = redis.call('LLEN', 'channelMessages.' .. ch)
local msgs = {}
if from < n and count > 0 then
  msgs = redis.call('LRANGE', 'channelMessages.' .. ch, from,
    from + count - 1)
end
return {n, msgs, userinfo({}, msgs), chk_before(ch, math.min(from, n))}
