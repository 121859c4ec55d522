-- signout.lua - S_SIGNOUT (store_signout): ends an access key.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] access key, [5] claimed uid ('' = none), [6] target uid
--       ('' = self), [7] session ('' = none).
-- Reply: the uid.
-- Errors: CHAT401:key, CHAT403:user, CHAT404:session, CHAT403:session.
-- Writes: deletes rcg:key, userAccessKey (when it is this key),
--        userStatus; clears the session's user and channel (read to its
--        end: rcg:read); XADD channelLeave (the session's channel), signOut.
local key, claimed, target, s = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local uid, e = auth(key, claimed)
if not uid then return redis.error_reply(e) end
if target ~= '' and target ~= uid then
  return redis.error_reply('CHAT403:user') end
local sk
if s ~= '' then
  sk, e = session_of(s, uid)
  if not sk then return redis.error_reply(e) end
end
local name = user_name(user_json(uid))
redis.call('DEL', P .. 'key.' .. key)
if redis.call('GET', 'userAccessKey.' .. uid) == key then
  redis.call('DEL', 'userAccessKey.' .. uid) end
redis.call('DEL', 'userStatus.' .. uid)
if sk then
  local h = redis.call('HMGET', sk, 'ch', 'r')
  if h[1] and h[1] ~= '' then
    emit(h[1], 'channelLeave', uid, name, h[2] or '')
    read_all(uid, h[2] or '', h[1])
  end
  redis.call('HSET', sk, 'user', '', 'ch', '', 'r', '')
end
emit('*', 'signOut', uid, name, '')
return uid
