-- skel_tail.lua - S_SKEL_TAIL (store_skel_tail): the users records the
-- confusable index has not seen yet. Read only.
-- KEYS: none (see prelude.lua). ARGV: [4] count.
-- Reply: {rcg:skelpos, {users element from there, at most count...}}.
local count = tonumber(ARGV[4])
local pos = tonumber(redis.call('GET', P .. 'skelpos') or '0')
return {pos, redis.call('LRANGE', 'users', pos, pos + count - 1)}
