-- skel_add.lua - S_SKEL_ADD (store_skel_add): one record into the
-- confusable index: its keys unless another user holds them, and the
-- position past it when the index had reached it. Pipelined in list order
-- by the catch-up.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] the record's position, [5] its uuid, [6..7] its name's
--       confusable keys ('' = none).
-- Reply: 1. Writes: rcg:skel.<key> (SET NX), rcg:skelpos.
local pos, uid = tonumber(ARGV[4]), ARGV[5]
for k = 6, 7 do
  if ARGV[k] ~= '' then
    redis.call('SET', P .. 'skel.' .. ARGV[k], uid, 'NX') end
end
local k = P .. 'skelpos'
if tonumber(redis.call('GET', k) or '0') == pos then
  redis.call('SET', k, pos + 1) end
return 1
