-- join.lua - S_JOIN (store_join): the caller joins the public channel or
-- its private channel with a recipient, and reads the history.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] access key, [5] claimed uid ('' = none), [6] recipient uuid
--       ('' = public), [7] session ('' = none), [8] a fresh uuid for a new
--       private channel, [9] how many history messages (STORE_HISTORY).
-- Reply: {channel, {history message...}, {member uuid...}, userinfo}, with
--        userinfo flat {uuid, name|false, online}... (prelude's userinfo).
-- Errors: CHAT401:key, CHAT403:user, CHAT404:recipient, CHAT404:session,
--        CHAT403:session.
-- Writes: channelSenderRecipient (a new pair), channelUsers, rcg:session
--        user/ch/r/jn/pos; XADD channelLeave (the session's old channel),
--        channelJoin; the caller's rcg:read position of the channel, and
--        of the session's old one, = its length (read to the end).
local key, claimed, rcpt, s, newid, histn = ARGV[4], ARGV[5], ARGV[6],
  ARGV[7], ARGV[8], tonumber(ARGV[9])
local uid, e = auth(key, claimed)
if not uid then return redis.error_reply(e) end
local ch
ch, e = channel_of(uid, rcpt, newid)
if not ch then return redis.error_reply(e) end
local sk
if s ~= '' then
  sk, e = session_of(s, uid)
  if not sk then return redis.error_reply(e) end
end
local t = now()
redis.call('HSET', 'channelUsers.' .. ch, uid, t)
if rcpt ~= '' then redis.call('HSET', 'channelUsers.' .. ch, rcpt, t) end
local n = redis.call('LLEN', 'channelMessages.' .. ch)
local from = n - histn
if from < 0 then from = 0 end
local hist = {}
if n > 0 then
  hist = redis.call('LRANGE', 'channelMessages.' .. ch, from, n - 1) end
read_to(uid, rcpt, n)
local name = user_name(user_json(uid))
if sk then
  local h = redis.call('HMGET', sk, 'ch', 'r')
  if h[1] and h[1] ~= '' and h[1] ~= ch then
    emit(h[1], 'channelLeave', uid, name, h[2] or '')
    read_all(uid, h[2] or '', h[1])
  end
  redis.call('HSET', sk, 'user', uid, 'ch', ch, 'r', rcpt, 'pos', n)
  redis.call('HINCRBY', sk, 'jn', 1)
  redis.call('EXPIRE', sk, SESS_TTL)
end
emit(ch, 'channelJoin', uid, name, rcpt)
local members = redis.call('HKEYS', 'channelUsers.' .. ch)
return {ch, hist, members, userinfo(members, hist)}
