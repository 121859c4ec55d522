-- message.lua - S_MESSAGE (store_messages): stores and publishes one
-- message, or a batch of them from one sender, in order, all or none.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] access key, [5] claimed uid ('' = none), then the first
--       message: [6] recipient uuid ('' = public), [7] a fresh uuid for a
--       new private channel, [8] the message's uuid, [9] its text already
--       encoded as a JSON string, [10] CreatedAt; [11] messages per
--       RATE_WINDOW (0 = no limit), [12] the first message's client id
--       ('' = none); each further message as 6 more: recipient, fresh
--       channel uuid, uuid, text, CreatedAt, client id.
-- Reply: {uid, stored bytes, channel, userinfo of the sender and of every
--        recipient, replayed, more}: replayed 1 when the client id names a
--        message stored before (its bytes again; nothing stored or
--        counted); more = {bytes, channel, replayed, ...} of the further
--        messages.
-- Errors: CHAT401:key, CHAT403:user, CHAT404:recipient, CHAT429:rate <ttl>;
--        every check comes before the first write, so an error stores
--        nothing of the batch.
-- Writes: RPUSH channelMessages.<ch> and PUBLISH <ch> of the same bytes
--        (the original's format), rcg:rate.<uid> (INCRBY the new ones),
--        rcg:cid.<uid>.<id> = "<channel> TAB <list length after it> TAB
--        <message uuid>" (CID_TTL; a retry reads the bytes back with
--        LINDEX, and one whose element is no longer there is stored anew),
--        channelSenderRecipient (a new pair);
--        unread counts, O(1) per message whatever the channel's size: the
--        sender's rcg:read position of each channel written = its new
--        length, once per batch (own messages are read), and for a
--        private message the recipient's
--        position (HSETNX 0: the channel is counted from then on), an XADD
--        rcg:notice.<recipient> and one PUBLISH rcg:wake u.<recipient>.
local RATE_WINDOW = 10 -- seconds of the rate limit's window
local FIRST_EXTRA, EXTRA_ARGS = 13, 6 -- where further messages start
local key, claimed, rate = ARGV[4], ARGV[5], tonumber(ARGV[11])
local uid, e, uname = auth(key, claimed)
if not uid then return redis.error_reply(e) end
local msgs = {{rcpt = ARGV[6], newid = ARGV[7], mid = ARGV[8],
  text = ARGV[9], created = ARGV[10], cid = ARGV[12]}}
for i = FIRST_EXTRA, #ARGV, EXTRA_ARGS do
  msgs[#msgs + 1] = {rcpt = ARGV[i], newid = ARGV[i + 1], mid = ARGV[i + 2],
    text = ARGV[i + 3], created = ARGV[i + 4], cid = ARGV[i + 5]}
end
-- a retry of a stored message (same sender, same clientId): answer the
-- stored one, store nothing, count nothing
local fresh, cks, withck = 0, {}, {}
for _, m in ipairs(msgs) do
  if m.cid ~= '' then
    m.ck = P .. 'cid.' .. uid .. '.' .. m.cid
    cks[#cks + 1] = m.ck; withck[#withck + 1] = m
  end
end
-- one MGET for the batch; the stored element is the message only while
-- it still starts with its uuid (an LTRIM or DEL may have moved it)
local stored = #cks > 0 and redis.call('MGET', unpack(cks)) or {}
for i, v in ipairs(stored) do
  local m, ch, len, mid = withck[i], nil, nil, nil
  if v then ch, len, mid = string.match(v, '^([^\t]*)\t(%d+)\t(.*)$') end
  if ch then
    local b = redis.call('LINDEX', 'channelMessages.' .. ch, len - 1)
    if b and string.sub(b, 1, 10 + #mid) == '{"UUID":"' .. mid .. '"' then
      m.ch, m.b = ch, b end
  elseif v then -- stored before: "<channel> TAB <bytes>"
    m.ch, m.b = string.match(v, '^([^\t]*)\t(.*)$')
  end
end
for _, m in ipairs(msgs) do
  if not m.b then fresh = fresh + 1 end
end
-- sender and recipients as userinfo; the sender's name came with the key,
-- saving the record lookup on every message
local function info_of()
  local info, seen = {uid, uname or user_name(user_json(uid)),
    redis.call('EXISTS', 'userStatus.' .. uid)}, {}
  for _, m in ipairs(msgs) do
    local r = m.rcpt
    if r ~= '' and not seen[r] then
      seen[r] = true
      local j = user_json(r)
      info[#info + 1] = r; info[#info + 1] = j and field(j, 'Username')
      info[#info + 1] = redis.call('EXISTS', 'userStatus.' .. r)
    end
  end
  return info
end
if fresh > 0 and rate > 0 then
  local rk = P .. 'rate.' .. uid
  local c = redis.call('INCRBY', rk, fresh)
  if c == fresh then redis.call('EXPIRE', rk, RATE_WINDOW) end
  if c > rate then -- refused messages count too (the contract's 218)
    return redis.error_reply('CHAT429:rate ' .. redis.call('TTL', rk)) end
end
for _, m in ipairs(msgs) do
  if not m.b then
    m.ch, e = channel_of(uid, m.rcpt, m.newid)
    if not m.ch then return redis.error_reply(e) end
  end
end
-- a private message to someone else: its notice, and the recipient's
-- channel counted; the wake is sent once per recipient, after the loop
local woken, told, sname = {}, {}, nil
local function tell(m)
  if m.rcpt == '' or m.rcpt == uid then return end
  sname = sname or uname or user_name(user_json(uid))
  redis.call('HSETNX', P .. 'read.' .. m.rcpt, uid, 0)
  notice(m.rcpt, uid, sname, m.mid)
  if not told[m.rcpt] then told[m.rcpt] = true; woken[#woken + 1] = m.rcpt end
end
local more, readpos, chans = {}, {}, {}
for i, m in ipairs(msgs) do
  if not m.b then
    -- The original's bytes: Go field order and a trailing newline.
    m.b = '{"UUID":"' .. m.mid .. '","SenderUUID":"' .. uid ..
      '","RecipientUUID":"' .. m.rcpt .. '","Message":' .. m.text ..
      ',"CreatedAt":"' .. m.created .. '"}\n'
    local len = redis.call('RPUSH', 'channelMessages.' .. m.ch, m.b)
    redis.call('PUBLISH', m.ch, m.b)
    local f = read_field(m.rcpt)
    if not readpos[f] then chans[#chans + 1] = f end
    readpos[f] = len
    tell(m)
    if m.ck then
      redis.call('SET', m.ck, m.ch .. '\t' .. len .. '\t' .. m.mid, 'EX',
        CID_TTL) end
    m.replayed = 0
  else
    m.replayed = 1
  end
  if i > 1 then
    more[#more + 1] = m.b; more[#more + 1] = m.ch
    more[#more + 1] = m.replayed
  end
end
for _, f in ipairs(chans) do
  redis.call('HSET', P .. 'read.' .. uid, f, readpos[f]) end
for _, r in ipairs(woken) do redis.call('PUBLISH', P .. 'wake', 'u.' .. r) end
local m1 = msgs[1]
return {uid, m1.b, m1.ch, info_of(), m1.replayed, more}
