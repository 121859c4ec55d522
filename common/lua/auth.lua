-- auth.lua - S_AUTH (store_auth): checks an access key (and slides its
-- idle expiry: prelude's auth).
-- KEYS: none (see prelude.lua). ARGV: [4] access key, [5] claimed uid
-- ('' = none).
-- Reply: the uid. Errors: CHAT401:key, CHAT403:user.
local uid, e = auth(ARGV[4], ARGV[5])
if not uid then return redis.error_reply(e) end
return uid
