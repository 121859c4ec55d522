-- pw_move.lua - S_PW_MOVE (store_pw_move): `chat.fcgi --migrate` moves a
-- password hash out of a users record (prelude's move_hash).
-- KEYS: none (see prelude.lua).
-- ARGV: [4] uid, [5] the record as read, [6] the record with a sealed
--       Password, [7] the hash.
-- Reply: 1 moved, 0 the record changed meanwhile (nothing written).
-- Writes: the users record, rcg:pw.<uid>.
return move_hash(ARGV[4], ARGV[5], ARGV[6], ARGV[7])
