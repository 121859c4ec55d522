-- signin_refund.lua - S_SIGNIN_REFUND (store_signin_refund): gives back an
-- attempt that never reached a verdict (hashing had no memory).
-- KEYS: none (see prelude.lua). ARGV: [4] md5 of the name, [5] the
-- client's address.
-- Reply: 1. Writes: rcg:tries.<md5>.<addr> (deleted at 0).
local k = P .. 'tries.' .. ARGV[4] .. '.' .. ARGV[5]
if redis.call('DECR', k) <= 0 then redis.call('DEL', k) end
return 1
