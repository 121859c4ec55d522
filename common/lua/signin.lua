-- signin.lua - S_SIGNIN (store_signin): signs a user in, creating it or
-- moving its password hash out of the record first when asked.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] uid, [5] name, [6] md5 of the name, [7] the record to store
--       ('' = an existing user), [8] the new access key, [9] session
--       ('' = none), [10] rcg:pw value (create or move), [11] the record
--       [7] replaces ('' = create [7]), [12] the client's address (its
--       attempts are reset), [13..14] the name's confusable keys ('' = none).
-- Reply: 1.
-- Errors: CHAT404:session, CHAT403:session, CHAT409:taken (create: the
--        name exists), CHAT409:similar (create: an rcg:skel key is taken).
-- Writes: users + both indexes + rcg:pw + rcg:skel keys (create; rcg:skelpos
--        follows when it had reached the new record) or the record + rcg:pw
--        (move); rcg:key, userAccessKey, userStatus, rcg:session user;
--        XADD signIn.
local uid, name, md5, json, key, s = ARGV[4], ARGV[5], ARGV[6], ARGV[7],
  ARGV[8], ARGV[9]
local pw, old, addr = ARGV[10], ARGV[11], ARGV[12]
local skel = {}
for k = 13, 14 do
  if ARGV[k] ~= '' then skel[#skel + 1] = P .. 'skel.' .. ARGV[k] end
end
local sk, e
if s ~= '' then
  sk, e = session_of(s, uid)
  if not sk then return redis.error_reply(e) end
end
if json ~= '' and old == '' then
  if redis.call('EXISTS', 'usersUsernameListIndex.' .. md5) == 1 then
    return redis.error_reply('CHAT409:taken') end
  for _, k in ipairs(skel) do
    if redis.call('EXISTS', k) == 1 then
      return redis.error_reply('CHAT409:similar') end
  end
  local n = redis.call('RPUSH', 'users', json)
  redis.call('SET', 'usersUsernameListIndex.' .. md5, n - 1)
  redis.call('SET', 'usersUUIDListIndex.' .. uid, n - 1)
  redis.call('SET', P .. 'pw.' .. uid, pw)
  for _, k in ipairs(skel) do redis.call('SET', k, uid) end
  -- the index covers this record only when it covered all before it;
  -- else the catch-up reaches it in order (SET NX keeps these keys)
  if tonumber(redis.call('GET', P .. 'skelpos') or '0') == n - 1 then
    redis.call('SET', P .. 'skelpos', n) end
elseif json ~= '' then
  move_hash(uid, old, json, pw)
end
redis.call('DEL', P .. 'fails.' .. md5, P .. 'tries.' .. md5 .. '.' .. addr)
redis.call('SET', P .. 'key.' .. key, uid .. '\t' .. name, 'EX', KEY_TTL)
redis.call('SET', 'userAccessKey.' .. uid, key)
redis.call('SET', 'userStatus.' .. uid, now(), 'EX', STATUS_TTL)
if sk then
  redis.call('HSET', sk, 'user', uid)
  redis.call('EXPIRE', sk, SESS_TTL)
end
emit('*', 'signIn', uid, name, '')
return 1
