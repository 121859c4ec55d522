-- user_by_name.lua - S_USER_BY_NAME (store_user_by_name): the record a
-- sign-in checks, with the attempt counted first.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] md5 of the NFC name, [5] attempt limit (0 = none), [6] the
--       client's address, [7] md5 of the name as typed ('' when it is the
--       NFC form), [8..9] the name's confusable keys ('' = none).
-- Reply: {user JSON, rcg:pw hash or false, 0, 0} for the NFC name's record,
--        else the typed name's; {false, false, similar, behind} when the
--        name is free: similar 1 when an rcg:skel key of the name is taken,
--        behind 1 when rcg:skelpos is short of the users list.
-- Errors: CHAT429:signin <ttl> (over the limit: per name and address, or
--        one attempt per SLOW_GAP past NAME_FACTOR x limit failures).
-- Writes: rcg:tries.<md5>.<addr>, rcg:slow.<md5>.
local md5, limit, addr = ARGV[4], tonumber(ARGV[5]), ARGV[6]
local alt = ARGV[7]
-- the attempt is counted here, before the hash is checked: concurrent
-- guesses cannot slip past the limit
if limit > 0 then
  local ak = P .. 'tries.' .. md5 .. '.' .. addr
  local n = redis.call('INCR', ak)
  if n == 1 then redis.call('EXPIRE', ak, FAIL_WINDOW) end
  if n > limit then
    return redis.error_reply('CHAT429:signin ' .. redis.call('TTL', ak)) end
  local f = tonumber(redis.call('GET', P .. 'fails.' .. md5) or '0')
  if f >= limit * NAME_FACTOR then
    local sk = P .. 'slow.' .. md5
    if not redis.call('SET', sk, '1', 'NX', 'EX', SLOW_GAP) then
      return redis.error_reply('CHAT429:signin ' .. redis.call('TTL', sk)) end
  end
end
-- the NFC name, then the name as typed: a Go record need not be NFC
local i = redis.call('GET', 'usersUsernameListIndex.' .. md5)
if not i and alt ~= '' then
  i = redis.call('GET', 'usersUsernameListIndex.' .. alt) end
local j = i and redis.call('LINDEX', 'users', i)
if j then
  local u = field(j, 'UUID')
  return {j, u and redis.call('GET', P .. 'pw.' .. u) or false, 0, 0}
end
-- free: is it like a taken name, and has the index seen every user?
local similar = 0
for k = 8, 9 do
  if ARGV[k] ~= '' and redis.call('EXISTS', P .. 'skel.' .. ARGV[k]) == 1 then
    similar = 1 end
end
local pos = tonumber(redis.call('GET', P .. 'skelpos') or '0')
local behind = pos < redis.call('LLEN', 'users') and 1 or 0
return {false, false, similar, behind}
