-- message.lua - S_MESSAGE (store_message): stores and publishes a message.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] access key, [5] claimed uid ('' = none), [6] recipient uuid
--       ('' = public), [7] a fresh uuid for a new private channel, [8] the
--       message's uuid, [9] its text already encoded as a JSON string,
--       [10] CreatedAt, [11] messages per RATE_WINDOW (0 = no limit),
--       [12] the client's id of the message ('' = none).
-- Reply: {uid, stored bytes, channel, userinfo of sender and recipient,
--        replayed}: replayed 1 when [12] names a message stored before
--        (its bytes again; nothing stored or counted).
-- Errors: CHAT401:key, CHAT403:user, CHAT404:recipient, CHAT429:rate <ttl>.
-- Writes: RPUSH channelMessages.<ch> and PUBLISH <ch> of the same bytes
--        (the original's format), rcg:rate.<uid>, rcg:cid.<uid>.<id>
--        (CID_TTL), channelSenderRecipient (a new pair).
local RATE_WINDOW = 10 -- seconds of the rate limit's window
local key, claimed, rcpt, newid = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local mid, text, created, rate = ARGV[8], ARGV[9], ARGV[10],
  tonumber(ARGV[11])
local cid = ARGV[12]
local uid, e, uname = auth(key, claimed)
if not uid then return redis.error_reply(e) end
-- a retry of a stored message (same sender, same clientId): answer the
-- stored one, store nothing, count nothing
local ck, b, ch
if cid ~= '' then
  ck = P .. 'cid.' .. uid .. '.' .. cid
  local v = redis.call('GET', ck)
  if v then ch, b = string.match(v, '^([^\t]*)\t(.*)$') end
end
-- sender and recipient as userinfo; the sender's name came with the key,
-- saving the record lookup on every message
local function info_of()
  local info = {uid, uname or user_name(user_json(uid)),
    redis.call('EXISTS', 'userStatus.' .. uid)}
  if rcpt ~= '' then
    local j = user_json(rcpt)
    info[4] = rcpt; info[5] = j and field(j, 'Username')
    info[6] = redis.call('EXISTS', 'userStatus.' .. rcpt)
  end
  return info
end
if b then return {uid, b, ch, info_of(), 1} end
if rate > 0 then
  local rk = P .. 'rate.' .. uid
  local c = redis.call('INCR', rk)
  if c == 1 then redis.call('EXPIRE', rk, RATE_WINDOW) end
  if c > rate then
    return redis.error_reply('CHAT429:rate ' .. redis.call('TTL', rk)) end
end
ch, e = channel_of(uid, rcpt, newid)
if not ch then return redis.error_reply(e) end
-- The original's bytes: Go field order and a trailing newline.
b = '{"UUID":"' .. mid .. '","SenderUUID":"' .. uid ..
  '","RecipientUUID":"' .. rcpt .. '","Message":' .. text ..
  ',"CreatedAt":"' .. created .. '"}\n'
redis.call('RPUSH', 'channelMessages.' .. ch, b)
redis.call('PUBLISH', ch, b)
if ck then redis.call('SET', ck, ch .. '\t' .. b, 'EX', CID_TTL) end
return {uid, b, ch, info_of(), 0}
