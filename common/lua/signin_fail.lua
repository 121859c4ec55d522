-- signin_fail.lua - S_SIGNIN_FAIL (store_signin_fail): a wrong password.
-- KEYS: none (see prelude.lua). ARGV: [4] md5 of the name.
-- Reply: the name's failures in this FAIL_WINDOW.
-- Writes: rcg:fails.<md5> (expires FAIL_WINDOW after the first).
local k = P .. 'fails.' .. ARGV[4]
local n = redis.call('INCR', k)
if n == 1 then redis.call('EXPIRE', k, FAIL_WINDOW) end
return n
