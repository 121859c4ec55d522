-- leave.lua - S_LEAVE (store_leave): the caller leaves a channel.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] access key, [5] claimed uid ('' = none), [6] recipient uuid
--       ('' = public), [7] session ('' = none).
-- Reply: {uid} (also when the private channel does not exist: nothing
--        written).
-- Errors: CHAT401:key, CHAT403:user, CHAT404:recipient, CHAT404:session,
--        CHAT403:session.
-- Writes: clears the session's channel when it is that one (and the
--        caller has read it to its end: rcg:read); XADD channelLeave.
local key, claimed, rcpt, s = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local uid, e = auth(key, claimed)
if not uid then return redis.error_reply(e) end
local ch
ch, e = channel_of(uid, rcpt, '')
if ch == nil then return redis.error_reply(e) end
local sk
if s ~= '' then
  sk, e = session_of(s, uid)
  if not sk then return redis.error_reply(e) end
end
if not ch then return {uid} end
if sk and redis.call('HGET', sk, 'ch') == ch then
  redis.call('HSET', sk, 'ch', '', 'r', '')
  read_all(uid, rcpt, ch)
end
emit(ch, 'channelLeave', uid, user_name(user_json(uid)), rcpt)
return {uid}
