-- unread.lua - S_UNREAD (store_unread): the caller's unread counts, one per
-- channel it has a read position in (prelude's read_to): the channel's
-- length minus that position. O(channels of the user), never of members.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] access key, [5] claimed uid ('' = none).
-- Reply: {uid, {recipient, count, ...}}: every channel with a count above
--        0, recipient '' = public, else the other member as the caller
--        names the channel.
-- Errors: CHAT401:key, CHAT403:user.
-- Writes: nothing (the key's idle expiry, as every request).
local uid, e = auth(ARGV[4], ARGV[5])
if not uid then return redis.error_reply(e) end
local h = redis.call('HGETALL', P .. 'read.' .. uid)
local out = {}
for i = 1, #h, 2 do
  local ch, r = 'public', ''
  if h[i] ~= 'public' then ch, r = private_channel(uid, h[i], ''), h[i] end
  if ch then
    local n = redis.call('LLEN', 'channelMessages.' .. ch) -
      (tonumber(h[i + 1]) or 0)
    if n > 0 then out[#out + 1] = r; out[#out + 1] = n end
  end
end
return {uid, out}
