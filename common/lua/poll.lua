-- poll.lua - S_POLL (store_poll): the catch-up read of a poll: the events,
-- the user's notices and the channel messages after the cursor, and
-- presence refreshed.
-- KEYS: none (see prelude.lua).
-- ARGV: [4] access key, [5] session, [6] the cursor's join counter
--       ('' = none), [7] the cursor's rcg:events id ('' = the session's
--       ready id), [8] the cursor's position in the channel, [9] batch
--       limit (events + notices + messages), [10] the cursor's
--       rcg:notice.<uid> id ('' or absent = the session's nid, or now for
--       a session from before nid), [11] the cursor's check of the
--       element before its position ('' or absent = not checked).
-- Reply: {events id, jn, pos, channel, reset, {{id, {field, value...}}...},
--        {message...}, userinfo, uid, notice id the read started after,
--        notice id, {{id, {field, value...}}...}, check}: reset 1 when the
--        cursor was lost (events trimmed past it, a position beyond the
--        list, or an element before it that is not the one it passed);
--        check = chk() of the element before the first message returned
--        ('' at position 0 or with no channel).
--        Notices trimmed away (over NOTICE_MAXLEN) are skipped, no reset.
-- Errors: CHAT401:key, CHAT404:session, CHAT403:session.
-- Writes: the session's TTL, userSession, userStatus (presence), each at
--        most once per REFRESH s; the
--        user's rcg:read position of the channel followed, moved forward
--        to the position this answer reaches.
local EVENTS_SCAN = 1000 -- rcg:events entries one poll reads at most
local key, s, cjn, after, cpos, limit = ARGV[4], ARGV[5], ARGV[6], ARGV[7],
  tonumber(ARGV[8]), tonumber(ARGV[9])
local nid0 = ARGV[10] or ''
local cchk = ARGV[11] or ''
local uid, e = auth(key, '')
if not uid then return redis.error_reply(e) end
local sk = P .. 'session.' .. s
local h = redis.call('HMGET', sk, 'user', 'ch', 'jn', 'pos', 'sys', 'r', 'nid')
if not h[1] then return redis.error_reply('CHAT404:session') end
if h[1] ~= uid then return redis.error_reply('CHAT403:session') end
refresh(sk, SESS_TTL)
refresh('userSession.' .. s, SESS_TTL, now())
refresh('userStatus.' .. uid, STATUS_TTL, now())
local ch, jn = h[2] or '', h[3] or '0'
local pos = tonumber(h[4] or '0')
if cjn == jn then pos = cpos else cchk = '' end
if after == '' then after = h[5] or '0-0' end
local reset = 0
local function idlt(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local ev = P .. 'events'
-- nothing after the cursor (the common case): no events are due, and
-- none can have been trimmed past it; one cheap look at the tail
local newer = redis.call('XREVRANGE', ev, '+', '(' .. after, 'COUNT', 1)
if #newer > 0 then
  local info = redis.call('XINFO', 'STREAM', ev)
  local f = {}
  for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
  local first = f['recorded-first-entry-id']
  if first and first ~= '0-0' and idlt(after, first) and
    f['entries-added'] > f['length'] then
    local fm, fs = string.match(first, '^(%d+)-(%d+)$')
    local am, as = string.match(after, '^(%d+)-(%d+)$')
    -- after is the id just before first when nothing was lost
    if not (am == fm and tonumber(as) + 1 == tonumber(fs)) then
      reset = 1; after = f['last-generated-id'] end
  end
end
local out = {}
local entries = #newer > 0 and redis.call('XRANGE', ev, '(' .. after, '+',
  'COUNT', EVENTS_SCAN) or {}
for _, en in ipairs(entries) do
  if #out >= limit then break end
  after = en[1]
  local sc = en[2][2]
  if sc == '*' or (ch ~= '' and sc == ch) then out[#out + 1] = en end
end
-- the user's notices (rcg:notice.<uid>), whichever channel it follows
if nid0 == '' then nid0 = h[7] or (now_ms() .. '-0') end
local nid, notes = nid0, {}
if limit > #out then
  notes = redis.call('XRANGE', P .. 'notice.' .. uid, '(' .. nid0, '+',
    'COUNT', limit - #out)
  if #notes > 0 then nid = notes[#notes][1] end
end
local msgs, chk0 = {}, ''
if ch ~= '' then
  local n = redis.call('LLEN', 'channelMessages.' .. ch)
  if pos > n then reset = 1; pos = n end
  chk0 = chk_before(ch, pos)
  -- the element the cursor passed is not there: lost in a failover (the
  -- list grew again past it) or rewritten
  if cchk ~= '' and cchk ~= chk0 and reset == 0 then
    reset = 1; pos = n; chk0 = chk_before(ch, pos)
  end
  local room = limit - #out - #notes
  if pos < n and room > 0 then
    msgs = redis.call('LRANGE', 'channelMessages.' .. ch, pos,
      pos + room - 1)
    pos = pos + #msgs
  end
  read_to(uid, h[6] or '', pos)
end
return {after, jn, pos, ch, reset, out, msgs, userinfo({}, msgs), uid, nid0,
  nid, notes, chk0}
