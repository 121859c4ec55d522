/* store.c - the data model: Lua scripts, their argv builders and reply
 * parsers. Key names are built here and in the scripts below, nowhere else.
 * Scripts compute key names from ARGV (standalone Redis; not Cluster-safe,
 * like the original's keys). ARGV[1..3] are always key TTL, session TTL and
 * the events stream length; operation arguments start at ARGV[4]. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nettle/base16.h>
#include <nettle/sha1.h>

#include "common/store.h"

/* Helpers shared by every script. */
static const char lua_prelude[] =
    "local P = 'rcg:'\n"
    "local CID_TTL = 600 -- a clientId answers retries for 10 minutes\n"
    /* sign-in attempts: CHAT_SIGNIN_FAILS per name and client address per
     * FAIL_WINDOW; past NAME_FACTOR times that in failures of the name
     * (from anywhere), one attempt per SLOW_GAP seconds */
    "local FAIL_WINDOW, NAME_FACTOR, SLOW_GAP = 300, 10, 10\n"
    "local KEY_TTL, SESS_TTL, MAXLEN = ARGV[1], ARGV[2], ARGV[3]\n"
    "local function now()\n"
    "  local t = redis.call('TIME')\n"
    "  return t[1] .. '.' .. string.format('%06d', tonumber(t[2]))\n"
    "end\n"
    /* rcg:key.<k> holds "uid<TAB>name" (a bare uid from before is read
     * too). The idle expiry slides at most once a minute: a refresh is a
     * write that AOF and replicas pay for, a TTL read is not. Returns
     * uid, nil, name (nil when not stored). */
    "local function auth(key, claimed)\n"
    "  if key == '' then return nil, 'CHAT401:key' end\n"
    "  local k = P .. 'key.' .. key\n"
    "  local v = redis.call('GET', k)\n"
    "  if not v then return nil, 'CHAT401:key' end\n"
    "  if redis.call('TTL', k) < tonumber(KEY_TTL) - 60 then\n"
    "    redis.call('EXPIRE', k, KEY_TTL) end\n"
    "  local uid, name = string.match(v, '^([^\\t]+)\\t(.*)$')\n"
    "  if not uid then uid = v end\n"
    "  if claimed ~= '' and claimed ~= uid then return nil, 'CHAT403:user' "
    "end\n"
    "  return uid, nil, name\n"
    "end\n"
    "local function user_json(u)\n"
    "  local i = redis.call('GET', 'usersUUIDListIndex.' .. u)\n"
    "  if not i then return false end\n"
    "  return redis.call('LINDEX', 'users', i)\n"
    "end\n"
    /* A string field of a stored record: a plain match for the common
     * case (no escapes in the value), cjson for the rest. */
    "local pats = {}\n"
    "local function field(j, name)\n"
    "  local p = pats[name]\n"
    "  if not p then p = '\"' .. name .. '\":\"([^\"\\\\]*)\"'; pats[name] = p "
    "end\n"
    "  local v = string.match(j, p)\n"
    "  if v then return v end\n"
    "  local ok, t = pcall(cjson.decode, j)\n"
    "  if ok and type(t) == 'table' and type(t[name]) == 'string' then\n"
    "    return t[name] end\n"
    "  return false\n"
    "end\n"
    "local function user_name(j)\n"
    "  if not j then return '' end\n"
    "  return field(j, 'Username') or ''\n"
    "end\n"
    "local function session_of(s, uid)\n"
    "  local sk = P .. 'session.' .. s\n"
    "  local owner = redis.call('HGET', sk, 'user')\n"
    "  if not owner then return nil, 'CHAT404:session' end\n"
    "  if owner ~= '' and owner ~= uid then return nil, 'CHAT403:session' "
    "end\n"
    "  return sk\n"
    "end\n"
    "local function move_hash(uid, old, json, pw)\n"
    "  local i = redis.call('GET', 'usersUUIDListIndex.' .. uid)\n"
    "  if not i or redis.call('LINDEX', 'users', i) ~= old then return 0 "
    "end\n"
    "  redis.call('SET', P .. 'pw.' .. uid, pw)\n"
    "  redis.call('LSET', 'users', i, json)\n"
    "  return 1\n"
    "end\n"
    "local function emit(scope, t, u, n, r)\n"
    "  redis.call('XADD', P .. 'events', 'MAXLEN', '~', MAXLEN, '*',\n"
    "    's', scope, 't', t, 'u', u, 'n', n, 'r', r)\n"
    "  redis.call('PUBLISH', P .. 'wake', scope)\n"
    "end\n"
    "local function private_channel(a, b, newid)\n"
    "  local c = redis.call('GET', 'channelSenderRecipient.' .. a .. '.' .. "
    "b)\n"
    "  if c then return c end\n"
    "  c = redis.call('GET', 'channelSenderRecipient.' .. b .. '.' .. a)\n"
    "  if c then return c end\n"
    "  if newid == '' then return false end\n"
    "  redis.call('SET', 'channelSenderRecipient.' .. a .. '.' .. b, newid)\n"
    "  redis.call('SET', 'channelSenderRecipient.' .. b .. '.' .. a, newid)\n"
    "  return newid\n"
    "end\n"
    "local function channel_of(uid, rcpt, newid)\n"
    "  if rcpt == '' then return 'public' end\n"
    "  if redis.call('EXISTS', 'usersUUIDListIndex.' .. rcpt) == 0 then\n"
    "    return nil, 'CHAT404:recipient' end\n"
    "  return private_channel(uid, rcpt, newid)\n"
    "end\n"
    /* userinfo: flat {uuid, name|false, online} for members and the
     * senders/recipients of the given stored messages. */
    "local function userinfo(uuids, msgs)\n"
    "  local want, seen, out = {}, {}, {}\n"
    "  local function add(u)\n"
    "    if type(u) == 'string' and u ~= '' and not seen[u] then\n"
    "      seen[u] = true; want[#want + 1] = u end\n"
    "  end\n"
    "  for _, u in ipairs(uuids) do add(u) end\n"
    "  for _, m in ipairs(msgs) do\n"
    "    add(field(m, 'SenderUUID')); add(field(m, 'RecipientUUID'))\n"
    "  end\n"
    "  for _, u in ipairs(want) do\n"
    "    local j = user_json(u)\n"
    "    out[#out + 1] = u; out[#out + 1] = j and field(j, 'Username')\n"
    "    out[#out + 1] = redis.call('EXISTS', 'userStatus.' .. u)\n"
    "  end\n"
    "  return out\n"
    "end\n";

static const char lua_ready[] =
    "local s = ARGV[4]\n"
    "redis.call('SET', 'userSession.' .. s, now(), 'EX', SESS_TTL)\n"
    "local last = redis.call('XREVRANGE', P .. 'events', '+', '-', 'COUNT', "
    "1)\n"
    "local sid = '0-0'\n"
    "if #last > 0 then sid = last[1][1] end\n"
    "local sk = P .. 'session.' .. s\n"
    "redis.call('HSET', sk, 'user', '', 'ch', '', 'r', '', 'jn', '0', 'pos', "
    "'0', 'sys', sid)\n"
    "redis.call('EXPIRE', sk, SESS_TTL)\n"
    "return sid\n";

static const char lua_user_by_name[] =
    "local md5, limit, addr = ARGV[4], tonumber(ARGV[5]), ARGV[6]\n"
    "local alt = ARGV[7]\n"
    /* the attempt is counted here, before the hash is checked: concurrent
     * guesses cannot slip past the limit */
    "if limit > 0 then\n"
    "  local ak = P .. 'tries.' .. md5 .. '.' .. addr\n"
    "  local n = redis.call('INCR', ak)\n"
    "  if n == 1 then redis.call('EXPIRE', ak, FAIL_WINDOW) end\n"
    "  if n > limit then\n"
    "    return redis.error_reply('CHAT429:signin ' .. redis.call('TTL', ak)) "
    "end\n"
    "  local f = tonumber(redis.call('GET', P .. 'fails.' .. md5) or '0')\n"
    "  if f >= limit * NAME_FACTOR then\n"
    "    local sk = P .. 'slow.' .. md5\n"
    "    if not redis.call('SET', sk, '1', 'NX', 'EX', SLOW_GAP) then\n"
    "      return redis.error_reply('CHAT429:signin ' .. redis.call('TTL', "
    "sk)) "
    "end\n"
    "  end\n"
    "end\n"
    /* the NFC name, then the name as typed: a Go record need not be NFC */
    "local i = redis.call('GET', 'usersUsernameListIndex.' .. md5)\n"
    "if not i and alt ~= '' then\n"
    "  i = redis.call('GET', 'usersUsernameListIndex.' .. alt) end\n"
    "local j = i and redis.call('LINDEX', 'users', i)\n"
    "if j then\n"
    "  local u = field(j, 'UUID')\n"
    "  return {j, u and redis.call('GET', P .. 'pw.' .. u) or false, 0, 0}\n"
    "end\n"
    /* free: is it like a taken name, and has the index seen every user? */
    "local similar = 0\n"
    "for k = 8, 9 do\n"
    "  if ARGV[k] ~= '' and redis.call('EXISTS', P .. 'skel.' .. ARGV[k]) == "
    "1 then\n"
    "    similar = 1 end\n"
    "end\n"
    "local pos = tonumber(redis.call('GET', P .. 'skelpos') or '0')\n"
    "local behind = pos < redis.call('LLEN', 'users') and 1 or 0\n"
    "return {false, false, similar, behind}\n";

static const char lua_signin_fail[] =
    "local k = P .. 'fails.' .. ARGV[4]\n"
    "local n = redis.call('INCR', k)\n"
    "if n == 1 then redis.call('EXPIRE', k, FAIL_WINDOW) end\n"
    "return n\n";

static const char lua_signin_refund[] =
    "local k = P .. 'tries.' .. ARGV[4] .. '.' .. ARGV[5]\n"
    "if redis.call('DECR', k) <= 0 then redis.call('DEL', k) end\n"
    "return 1\n";

static const char lua_signin[] =
    "local uid, name, md5, json, key, s = ARGV[4], ARGV[5], ARGV[6], "
    "ARGV[7], ARGV[8], ARGV[9]\n"
    "local pw, old, addr = ARGV[10], ARGV[11], ARGV[12]\n"
    "local skel = {}\n"
    "for k = 13, 14 do\n"
    "  if ARGV[k] ~= '' then skel[#skel + 1] = P .. 'skel.' .. ARGV[k] end\n"
    "end\n"
    "local sk, e\n"
    "if s ~= '' then\n"
    "  sk, e = session_of(s, uid)\n"
    "  if not sk then return redis.error_reply(e) end\n"
    "end\n"
    "if json ~= '' and old == '' then\n"
    "  if redis.call('EXISTS', 'usersUsernameListIndex.' .. md5) == 1 then\n"
    "    return redis.error_reply('CHAT409:taken') end\n"
    "  for _, k in ipairs(skel) do\n"
    "    if redis.call('EXISTS', k) == 1 then\n"
    "      return redis.error_reply('CHAT409:similar') end\n"
    "  end\n"
    "  local n = redis.call('RPUSH', 'users', json)\n"
    "  redis.call('SET', 'usersUsernameListIndex.' .. md5, n - 1)\n"
    "  redis.call('SET', 'usersUUIDListIndex.' .. uid, n - 1)\n"
    "  redis.call('SET', P .. 'pw.' .. uid, pw)\n"
    "  for _, k in ipairs(skel) do redis.call('SET', k, uid) end\n"
    /* the index covers this record only when it covered all before it;
     * else the catch-up reaches it in order (SET NX keeps these keys) */
    "  if tonumber(redis.call('GET', P .. 'skelpos') or '0') == n - 1 then\n"
    "    redis.call('SET', P .. 'skelpos', n) end\n"
    "elseif json ~= '' then\n"
    "  move_hash(uid, old, json, pw)\n"
    "end\n"
    "redis.call('DEL', P .. 'fails.' .. md5, P .. 'tries.' .. md5 .. '.' .. "
    "addr)\n"
    "redis.call('SET', P .. 'key.' .. key, uid .. '\\t' .. name, 'EX', "
    "KEY_TTL)\n"
    "redis.call('SET', 'userAccessKey.' .. uid, key)\n"
    "redis.call('SET', 'userStatus.' .. uid, now(), 'EX', 60)\n"
    "if sk then\n"
    "  redis.call('HSET', sk, 'user', uid)\n"
    "  redis.call('EXPIRE', sk, SESS_TTL)\n"
    "end\n"
    "emit('*', 'signIn', uid, name, '')\n"
    "return 1\n";

static const char lua_signout[] =
    "local key, claimed, target, s = ARGV[4], ARGV[5], ARGV[6], ARGV[7]\n"
    "local uid, e = auth(key, claimed)\n"
    "if not uid then return redis.error_reply(e) end\n"
    "if target ~= '' and target ~= uid then\n"
    "  return redis.error_reply('CHAT403:user') end\n"
    "local sk\n"
    "if s ~= '' then\n"
    "  sk, e = session_of(s, uid)\n"
    "  if not sk then return redis.error_reply(e) end\n"
    "end\n"
    "local name = user_name(user_json(uid))\n"
    "redis.call('DEL', P .. 'key.' .. key)\n"
    "if redis.call('GET', 'userAccessKey.' .. uid) == key then\n"
    "  redis.call('DEL', 'userAccessKey.' .. uid) end\n"
    "redis.call('DEL', 'userStatus.' .. uid)\n"
    "if sk then\n"
    "  local h = redis.call('HMGET', sk, 'ch', 'r')\n"
    "  if h[1] and h[1] ~= '' then emit(h[1], 'channelLeave', uid, name, h[2] "
    "or '') end\n"
    "  redis.call('HSET', sk, 'user', '', 'ch', '', 'r', '')\n"
    "end\n"
    "emit('*', 'signOut', uid, name, '')\n"
    "return uid\n";

static const char lua_join[] =
    "local key, claimed, rcpt, s, newid, histn = ARGV[4], ARGV[5], ARGV[6], "
    "ARGV[7], ARGV[8], tonumber(ARGV[9])\n"
    "local uid, e = auth(key, claimed)\n"
    "if not uid then return redis.error_reply(e) end\n"
    "local ch\n"
    "ch, e = channel_of(uid, rcpt, newid)\n"
    "if not ch then return redis.error_reply(e) end\n"
    "local sk\n"
    "if s ~= '' then\n"
    "  sk, e = session_of(s, uid)\n"
    "  if not sk then return redis.error_reply(e) end\n"
    "end\n"
    "local t = now()\n"
    "redis.call('HSET', 'channelUsers.' .. ch, uid, t)\n"
    "if rcpt ~= '' then redis.call('HSET', 'channelUsers.' .. ch, rcpt, t) "
    "end\n"
    "local n = redis.call('LLEN', 'channelMessages.' .. ch)\n"
    "local from = n - histn\n"
    "if from < 0 then from = 0 end\n"
    "local hist = {}\n"
    "if n > 0 then hist = redis.call('LRANGE', 'channelMessages.' .. ch, "
    "from, n - 1) end\n"
    "local name = user_name(user_json(uid))\n"
    "if sk then\n"
    "  local h = redis.call('HMGET', sk, 'ch', 'r')\n"
    "  if h[1] and h[1] ~= '' and h[1] ~= ch then\n"
    "    emit(h[1], 'channelLeave', uid, name, h[2] or '') end\n"
    "  redis.call('HSET', sk, 'user', uid, 'ch', ch, 'r', rcpt, 'pos', n)\n"
    "  redis.call('HINCRBY', sk, 'jn', 1)\n"
    "  redis.call('EXPIRE', sk, SESS_TTL)\n"
    "end\n"
    "emit(ch, 'channelJoin', uid, name, rcpt)\n"
    "local members = redis.call('HKEYS', 'channelUsers.' .. ch)\n"
    "return {ch, hist, members, userinfo(members, hist)}\n";

static const char lua_leave[] =
    "local key, claimed, rcpt, s = ARGV[4], ARGV[5], ARGV[6], ARGV[7]\n"
    "local uid, e = auth(key, claimed)\n"
    "if not uid then return redis.error_reply(e) end\n"
    "local ch\n"
    "ch, e = channel_of(uid, rcpt, '')\n"
    "if ch == nil then return redis.error_reply(e) end\n"
    "local sk\n"
    "if s ~= '' then\n"
    "  sk, e = session_of(s, uid)\n"
    "  if not sk then return redis.error_reply(e) end\n"
    "end\n"
    "if not ch then return {uid} end\n"
    "if sk and redis.call('HGET', sk, 'ch') == ch then\n"
    "  redis.call('HSET', sk, 'ch', '', 'r', '') end\n"
    "emit(ch, 'channelLeave', uid, user_name(user_json(uid)), rcpt)\n"
    "return {uid}\n";

static const char lua_message[] =
    "local key, claimed, rcpt, newid = ARGV[4], ARGV[5], ARGV[6], ARGV[7]\n"
    "local mid, text, created, rate = ARGV[8], ARGV[9], ARGV[10], "
    "tonumber(ARGV[11])\n"
    "local cid = ARGV[12]\n"
    "local uid, e, uname = auth(key, claimed)\n"
    "if not uid then return redis.error_reply(e) end\n"
    /* a retry of a stored message (same sender, same clientId): answer the
     * stored one, store nothing, count nothing */
    "local ck, b, ch\n"
    "if cid ~= '' then\n"
    "  ck = P .. 'cid.' .. uid .. '.' .. cid\n"
    "  local v = redis.call('GET', ck)\n"
    "  if v then ch, b = string.match(v, '^([^\\t]*)\\t(.*)$') end\n"
    "end\n"
    "local function info_of()\n"
    "  local info = {uid, uname or user_name(user_json(uid)),\n"
    "    redis.call('EXISTS', 'userStatus.' .. uid)}\n"
    "  if rcpt ~= '' then\n"
    "    local j = user_json(rcpt)\n"
    "    info[4] = rcpt; info[5] = j and field(j, 'Username')\n"
    "    info[6] = redis.call('EXISTS', 'userStatus.' .. rcpt)\n"
    "  end\n"
    "  return info\n"
    "end\n"
    "if b then return {uid, b, ch, info_of(), 1} end\n"
    "if rate > 0 then\n"
    "  local rk = P .. 'rate.' .. uid\n"
    "  local c = redis.call('INCR', rk)\n"
    "  if c == 1 then redis.call('EXPIRE', rk, 10) end\n"
    "  if c > rate then\n"
    "    return redis.error_reply('CHAT429:rate ' .. redis.call('TTL', rk)) "
    "end\n"
    "end\n"
    "ch, e = channel_of(uid, rcpt, newid)\n"
    "if not ch then return redis.error_reply(e) end\n"
    /* The original's bytes: Go field order and a trailing newline. */
    "b = '{\"UUID\":\"' .. mid .. '\",\"SenderUUID\":\"' .. uid .. "
    "'\",\"RecipientUUID\":\"' .. rcpt .. '\",\"Message\":' .. text .. "
    "',\"CreatedAt\":\"' .. created .. '\"}\\n'\n"
    "redis.call('RPUSH', 'channelMessages.' .. ch, b)\n"
    "redis.call('PUBLISH', ch, b)\n"
    "if ck then redis.call('SET', ck, ch .. '\\t' .. b, 'EX', CID_TTL) end\n"
    /* sender and recipient as userinfo; the sender's name came with the
     * key, saving the record lookup on every message */
    "return {uid, b, ch, info_of(), 0}\n";

static const char lua_poll[] =
    "local key, s, cjn, after, cpos, limit = ARGV[4], ARGV[5], ARGV[6], "
    "ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])\n"
    "local uid, e = auth(key, '')\n"
    "if not uid then return redis.error_reply(e) end\n"
    "local sk = P .. 'session.' .. s\n"
    "local h = redis.call('HMGET', sk, 'user', 'ch', 'jn', 'pos', 'sys')\n"
    "if not h[1] then return redis.error_reply('CHAT404:session') end\n"
    "if h[1] ~= uid then return redis.error_reply('CHAT403:session') end\n"
    "redis.call('EXPIRE', sk, SESS_TTL)\n"
    "redis.call('SET', 'userSession.' .. s, now(), 'EX', SESS_TTL)\n"
    "redis.call('SET', 'userStatus.' .. uid, now(), 'EX', 60)\n"
    "local ch, jn = h[2] or '', h[3] or '0'\n"
    "local pos = tonumber(h[4] or '0')\n"
    "if cjn == jn then pos = cpos end\n"
    "if after == '' then after = h[5] or '0-0' end\n"
    "local reset = 0\n"
    "local function idlt(a, b)\n"
    "  local am, as = string.match(a, '^(%d+)-(%d+)$')\n"
    "  local bm, bs = string.match(b, '^(%d+)-(%d+)$')\n"
    "  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), "
    "tonumber(bs)\n"
    "  return am < bm or (am == bm and as < bs)\n"
    "end\n"
    "local ev = P .. 'events'\n"
    "if redis.call('EXISTS', ev) == 1 then\n"
    "  local info = redis.call('XINFO', 'STREAM', ev)\n"
    "  local f = {}\n"
    "  for i = 1, #info, 2 do f[info[i]] = info[i + 1] end\n"
    "  local first = f['recorded-first-entry-id']\n"
    "  if first and first ~= '0-0' and idlt(after, first) and "
    "f['entries-added'] > f['length'] then\n"
    "    local fm, fs = string.match(first, '^(%d+)-(%d+)$')\n"
    "    local am, as = string.match(after, '^(%d+)-(%d+)$')\n"
    /* after is the id just before first when nothing was lost */
    "    if not (am == fm and tonumber(as) + 1 == tonumber(fs)) then\n"
    "      reset = 1; after = f['last-generated-id'] end\n"
    "  end\n"
    "end\n"
    "local out = {}\n"
    "local entries = redis.call('XRANGE', ev, '(' .. after, '+', 'COUNT', "
    "1000)\n"
    "for _, en in ipairs(entries) do\n"
    "  if #out >= limit then break end\n"
    "  after = en[1]\n"
    "  local sc = en[2][2]\n"
    "  if sc == '*' or (ch ~= '' and sc == ch) then out[#out + 1] = en end\n"
    "end\n"
    "local msgs = {}\n"
    "if ch ~= '' then\n"
    "  local n = redis.call('LLEN', 'channelMessages.' .. ch)\n"
    "  if pos > n then reset = 1; pos = n end\n"
    "  local room = limit - #out\n"
    "  if pos < n and room > 0 then\n"
    "    msgs = redis.call('LRANGE', 'channelMessages.' .. ch, pos, pos + "
    "room - 1)\n"
    "    pos = pos + #msgs\n"
    "  end\n"
    "end\n"
    "return {after, jn, pos, ch, reset, out, msgs, userinfo({}, msgs)}\n";

/* The users records the confusable index has not seen yet. */
static const char lua_skel_tail[] =
    "local count = tonumber(ARGV[4])\n"
    "local pos = tonumber(redis.call('GET', P .. 'skelpos') or '0')\n"
    "return {pos, redis.call('LRANGE', 'users', pos, pos + count - 1)}\n";

/* One record into the index: its keys unless another user holds them,
 * and the position past it when the index had reached it. */
static const char lua_skel_add[] =
    "local pos, uid = tonumber(ARGV[4]), ARGV[5]\n"
    "for k = 6, 7 do\n"
    "  if ARGV[k] ~= '' then\n"
    "    redis.call('SET', P .. 'skel.' .. ARGV[k], uid, 'NX') end\n"
    "end\n"
    "local k = P .. 'skelpos'\n"
    "if tonumber(redis.call('GET', k) or '0') == pos then\n"
    "  redis.call('SET', k, pos + 1) end\n"
    "return 1\n";

static const char lua_pw_move[] =
    "return move_hash(ARGV[4], ARGV[5], ARGV[6], ARGV[7])\n";

static const char lua_hold_take[] =
    "local k, token, hold, max = P .. 'holds', ARGV[4], tonumber(ARGV[5]), "
    "tonumber(ARGV[6])\n"
    "local t = tonumber(redis.call('TIME')[1])\n"
    "redis.call('ZREMRANGEBYSCORE', k, '-inf', t)\n"
    "if redis.call('ZCARD', k) >= max then return 0 end\n"
    "redis.call('ZADD', k, t + hold, token)\n"
    "if redis.call('TTL', k) < hold then redis.call('EXPIRE', k, hold) end\n"
    "return 1\n";

static const char lua_auth[] =
    "local uid, e = auth(ARGV[4], ARGV[5])\n"
    "if not uid then return redis.error_reply(e) end\n"
    "return uid\n";

static const char lua_channel_read[] =
    "local ch, from, count = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local n = redis.call('LLEN', 'channelMessages.' .. ch)\n"
    "local msgs = {}\n"
    "if from < n and count > 0 then\n"
    "  msgs = redis.call('LRANGE', 'channelMessages.' .. ch, from, from + "
    "count - 1)\n"
    "end\n"
    "return {n, msgs, userinfo({}, msgs)}\n";

struct script {
    const char *body;
    char *text; /* prelude + body, built by store_init */
    size_t len;
};

static struct script scripts[S__MAX] = {
    [S_READY] = {.body = lua_ready},
    [S_USER_BY_NAME] = {.body = lua_user_by_name},
    [S_SIGNIN_FAIL] = {.body = lua_signin_fail},
    [S_SIGNIN_REFUND] = {.body = lua_signin_refund},
    [S_SIGNIN] = {.body = lua_signin},
    [S_SIGNOUT] = {.body = lua_signout},
    [S_JOIN] = {.body = lua_join},
    [S_LEAVE] = {.body = lua_leave},
    [S_MESSAGE] = {.body = lua_message},
    [S_POLL] = {.body = lua_poll},
    [S_CHANNEL_READ] = {.body = lua_channel_read},
    [S_AUTH] = {.body = lua_auth},
    [S_PW_MOVE] = {.body = lua_pw_move},
    [S_HOLD_TAKE] = {.body = lua_hold_take},
    [S_SKEL_TAIL] = {.body = lua_skel_tail},
    [S_SKEL_ADD] = {.body = lua_skel_add},
};

/* SHA1 hex of each script text, as EVALSHA wants it. */
static char shas[S__MAX][41];

static void sha1_hex(const char *text, size_t len, char out[41])
{
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_SIZE];

    sha1_init(&ctx);
    sha1_update(&ctx, len, (const uint8_t *)text);
    sha1_digest(&ctx, sizeof d, d);
    base16_encode_update(out, sizeof d, d); /* lowercase hex */
    out[40] = '\0';
}

int store_init(void)
{
    for (int i = 0; i < S__MAX; i++) {
        size_t pl = strlen(lua_prelude), bl = strlen(scripts[i].body);
        if (scripts[i].text)
            continue;
        scripts[i].text = malloc(pl + bl + 1);
        if (!scripts[i].text)
            return -1;
        memcpy(scripts[i].text, lua_prelude, pl);
        memcpy(scripts[i].text + pl, scripts[i].body, bl + 1);
        scripts[i].len = pl + bl;
        sha1_hex(scripts[i].text, scripts[i].len, shas[i]);
    }
    return 0;
}

void store_cleanup(void)
{
    for (int i = 0; i < S__MAX; i++) {
        free(scripts[i].text);
        scripts[i].text = NULL;
    }
}

static void arg(struct store_call *c, const char *s, size_t n)
{
    /* a builder with more arguments than fit is a bug, not a runtime case */
    assert(c->argc < STORE_ARGS_MAX);
    if (c->argc >= STORE_ARGS_MAX)
        return;
    c->argv[c->argc] = s;
    c->argvlen[c->argc] = n;
    c->argc++;
}

static void arg_str(struct store_call *c, const char *s)
{
    arg(c, s ? s : "", s ? strlen(s) : 0);
}

static void arg_long(struct store_call *c, long v)
{
    char *buf;
    int n;

    assert(c->nums < (int)(sizeof c->numbuf / sizeof c->numbuf[0]));
    if (c->nums >= (int)(sizeof c->numbuf / sizeof c->numbuf[0]))
        return;
    buf = c->numbuf[c->nums++];
    n = snprintf(buf, sizeof c->numbuf[0], "%ld", v);
    arg(c, buf, (size_t)n);
}

/* EVALSHA sha 0 key_ttl session_ttl maxlen ... */
static void begin(struct store_call *c, enum store_script s,
                  const struct config *cfg)
{
    memset(c, 0, sizeof *c);
    c->script = s;
    arg_str(c, "EVALSHA");
    arg(c, shas[s], 40);
    arg_str(c, "0");
    arg_long(c, cfg ? cfg->key_ttl : 1);
    arg_long(c, cfg ? cfg->session_ttl : 1);
    arg_long(c, cfg ? cfg->events_maxlen : 10);
}

void store_call_use_eval(struct store_call *c)
{
    if (c->script >= S__MAX)
        return; /* a plain command has no script to send */
    c->argv[0] = "EVAL";
    c->argvlen[0] = 4;
    c->argv[1] = scripts[c->script].text;
    c->argvlen[1] = scripts[c->script].len;
}

int store_reply_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           strncmp(r->str, "NOSCRIPT", 8) == 0;
}

enum chat_err store_reply_error(const redisReply *r, struct chat_error *e)
{
    int retry = 0;
    enum chat_err err;

    const char *text;

    if (!r)
        return chat_fail(e, CHAT_E_REDIS, NULL);
    /* Redis prefixes "ERR " to script errors whose first word has no
     * space-separated code. */
    text = strncmp(r->str, "ERR ", 4) == 0 ? r->str + 4 : r->str;
    if (strncmp(text, "CHAT", 4) != 0) {
        /* LOADING, OOM, READONLY, BUSY, MASTERDOWN...: the store is not
         * usable now; the client retries. */
        e->retry_after = 1;
        return chat_fail(e, CHAT_E_REDIS, NULL);
    }
    err = chat_err_from_script(text, &retry);
    e->retry_after = retry > 0 ? retry : 0;
    return chat_fail(e, err, NULL);
}

void store_ready(struct store_call *c, const struct config *cfg,
                 const char *session)
{
    begin(c, S_READY, cfg);
    arg_str(c, session);
}

void store_user_by_name(struct store_call *c, const struct store_name *n,
                        int fail_limit, const char *addr)
{
    begin(c, S_USER_BY_NAME, NULL);
    arg_str(c, n->md5);
    arg_long(c, fail_limit);
    arg_str(c, addr);
    arg_str(c, n->typed_md5);
    for (int i = 0; i < STORE_SKEL_KEYS; i++)
        arg_str(c, i < n->nskel ? n->skel[i] : "");
}

void store_signin_refund(struct store_call *c, const char *md5,
                         const char *addr)
{
    begin(c, S_SIGNIN_REFUND, NULL);
    arg_str(c, md5);
    arg_str(c, addr);
}

void store_signin_fail(struct store_call *c, const char *md5)
{
    begin(c, S_SIGNIN_FAIL, NULL);
    arg_str(c, md5);
}

void store_signin(struct store_call *c, const struct config *cfg,
                  const struct store_signin_args *a)
{
    begin(c, S_SIGNIN, cfg);
    arg_str(c, a->uid);
    arg_str(c, a->name);
    arg_str(c, a->md5);
    arg_str(c, a->user_json);
    arg_str(c, a->key);
    arg_str(c, a->session);
    arg_str(c, a->pw_hash);
    arg_str(c, a->old_json);
    arg_str(c, a->addr);
    for (int i = 0; i < STORE_SKEL_KEYS; i++)
        arg_str(c, a->skel && i < a->skel->nskel ? a->skel->skel[i] : "");
}

void store_skel_tail(struct store_call *c, long count)
{
    begin(c, S_SKEL_TAIL, NULL);
    arg_long(c, count);
}

void store_skel_add(struct store_call *c, long pos, const char *uid,
                    const struct store_name *n)
{
    begin(c, S_SKEL_ADD, NULL);
    arg_long(c, pos);
    arg_str(c, uid);
    for (int i = 0; i < STORE_SKEL_KEYS; i++)
        arg_str(c, n && i < n->nskel ? n->skel[i] : "");
}

void store_pw_move(struct store_call *c, const char *uid, const char *old_json,
                   size_t old_len, const char *new_json, const char *pw_hash)
{
    begin(c, S_PW_MOVE, NULL);
    arg_str(c, uid);
    arg(c, old_json, old_len);
    arg_str(c, new_json);
    arg_str(c, pw_hash);
}

void store_signout(struct store_call *c, const struct config *cfg,
                   const char *key, const char *claimed, const char *target,
                   const char *session)
{
    begin(c, S_SIGNOUT, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
    arg_str(c, target);
    arg_str(c, session);
}

void store_join(struct store_call *c, const struct config *cfg, const char *key,
                const char *claimed, const char *recipient, const char *session,
                const char *new_channel)
{
    begin(c, S_JOIN, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
    arg_str(c, recipient);
    arg_str(c, session);
    arg_str(c, new_channel);
    arg_long(c, STORE_HISTORY);
}

void store_leave(struct store_call *c, const struct config *cfg,
                 const char *key, const char *claimed, const char *recipient,
                 const char *session)
{
    begin(c, S_LEAVE, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
    arg_str(c, recipient);
    arg_str(c, session);
}

void store_message(struct store_call *c, const struct config *cfg,
                   const char *key, const char *claimed, const char *recipient,
                   const char *new_channel, const char *msg_uuid,
                   const char *msg_json, size_t msg_len, const char *created,
                   const char *client_id)
{
    begin(c, S_MESSAGE, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
    arg_str(c, recipient);
    arg_str(c, new_channel);
    arg_str(c, msg_uuid);
    arg(c, msg_json, msg_len);
    arg_str(c, created);
    arg_long(c, cfg->msg_rate);
    arg_str(c, client_id);
}

void store_poll(struct store_call *c, const struct config *cfg, const char *key,
                const char *session, const char *jn, const char *sys_after,
                long pos, int limit)
{
    begin(c, S_POLL, cfg);
    arg_str(c, key);
    arg_str(c, session);
    arg_str(c, jn);
    arg_str(c, sys_after);
    arg_long(c, pos);
    arg_long(c, limit);
}

void store_channel_read(struct store_call *c, const char *channel, long from,
                        long count)
{
    begin(c, S_CHANNEL_READ, NULL);
    arg_str(c, channel);
    arg_long(c, from);
    arg_long(c, count);
}

void store_hold_take(struct store_call *c, const char *token, int hold_s,
                     int max)
{
    begin(c, S_HOLD_TAKE, NULL);
    arg_str(c, token);
    arg_long(c, hold_s);
    arg_long(c, max);
}

void store_hold_give(struct store_call *c, const char *token)
{
    memset(c, 0, sizeof *c);
    c->script = S__MAX;
    arg_str(c, "ZREM");
    arg_str(c, STORE_PREFIX "holds");
    arg_str(c, token);
}

void store_auth(struct store_call *c, const struct config *cfg, const char *key,
                const char *claimed)
{
    begin(c, S_AUTH, cfg);
    arg_str(c, key);
    arg_str(c, claimed);
}

void store_users_count(struct store_call *c)
{
    memset(c, 0, sizeof *c);
    c->script = S__MAX;
    arg_str(c, "LLEN");
    arg_str(c, "users");
}

void store_users_range(struct store_call *c, long offset, long limit)
{
    memset(c, 0, sizeof *c);
    c->script = S__MAX;
    arg_str(c, "LRANGE");
    arg_str(c, "users");
    arg_long(c, offset);
    arg_long(c, offset + limit - 1);
}

#define STATUS_KEY_MAX 64 /* "userStatus." + uuid + NUL */

int store_presence(struct store_mget *c, char (*uuids)[37], size_t n)
{
    memset(c, 0, sizeof *c);
    c->argv = calloc(n + 1, sizeof *c->argv);
    c->argvlen = calloc(n + 1, sizeof *c->argvlen);
    c->keys = malloc(n ? n * STATUS_KEY_MAX : 1);
    if (!c->argv || !c->argvlen || !c->keys) {
        store_mget_free(c);
        return -1;
    }
    c->argv[0] = "MGET";
    c->argvlen[0] = 4;
    for (size_t i = 0; i < n; i++) {
        char *k = c->keys + i * STATUS_KEY_MAX;
        int len = snprintf(k, STATUS_KEY_MAX, "userStatus.%s", uuids[i]);
        c->argv[i + 1] = k;
        c->argvlen[i + 1] = (size_t)len;
    }
    c->argc = (int)n + 1;
    return 0;
}

void store_mget_free(struct store_mget *c)
{
    if (!c)
        return;
    free(c->argv);
    free(c->argvlen);
    free(c->keys);
    memset(c, 0, sizeof *c);
}

void store_ping(struct store_call *c)
{
    memset(c, 0, sizeof *c);
    c->script = S__MAX;
    arg_str(c, "PING");
}

static int is_bulk(const redisReply *r);

int store_auth_argv(const struct config *cfg, const char *argv[3])
{
    int n = 0;

    if (!cfg->redis_password[0])
        return 0;
    argv[n++] = "AUTH";
    if (cfg->redis_username[0])
        argv[n++] = cfg->redis_username;
    argv[n++] = cfg->redis_password;
    return n;
}

#define PROBE_MAXLEN "1000" /* the newest elements LPOS compares */

int store_message_probe(struct store_call *c, const char *channel,
                        const char *payload, size_t len)
{
    int n;

    memset(c, 0, sizeof *c);
    c->script = S__MAX;
    n = snprintf(c->keybuf, sizeof c->keybuf, "channelMessages.%s", channel);
    if (n < 0 || (size_t)n >= sizeof c->keybuf)
        return -1;
    arg_str(c, "LPOS");
    arg(c, c->keybuf, (size_t)n);
    arg(c, payload, len);
    arg_str(c, "RANK");
    arg_str(c, "-1");
    arg_str(c, "MAXLEN");
    arg_str(c, PROBE_MAXLEN);
    return 0;
}

#define KEYSPACE_FMT "__keyspace@%d__:channelMessages."

int store_keyspace_name(char *out, size_t n, int db, const char *channel)
{
    int len = snprintf(out, n, KEYSPACE_FMT "%s", db, channel);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

const char *store_keyspace_channel_of(const char *name, int db)
{
    char prefix[64];
    int len = snprintf(prefix, sizeof prefix, KEYSPACE_FMT, db);

    if (len < 0 || (size_t)len >= sizeof prefix ||
        strncmp(name, prefix, (size_t)len) != 0 || !name[len])
        return NULL;
    return name + len;
}

void store_notify_get(struct store_call *c)
{
    memset(c, 0, sizeof *c);
    c->script = S__MAX;
    arg_str(c, "CONFIG");
    arg_str(c, "GET");
    arg_str(c, "notify-keyspace-events");
}

int store_notify_parse(const redisReply *r, char *flags, size_t n)
{
    const redisReply *v;

    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return -1;
    v = r->element[1];
    if (!is_bulk(v) || v->len >= n)
        return -1;
    memcpy(flags, v->str, v->len + 1);
    return 0;
}

int store_notify_covers(const char *flags)
{
    return strchr(flags, 'K') && (strchr(flags, 'l') || strchr(flags, 'A'));
}

void store_notify_set(struct store_call *c, const char *current)
{
    size_t n = strlen(current);

    memset(c, 0, sizeof *c);
    c->script = S__MAX;
    if (n > sizeof c->keybuf - 3)
        n = 0; /* cannot be: Redis flags are a few letters */
    memcpy(c->keybuf, current, n);
    if (!strchr(current, 'K'))
        c->keybuf[n++] = 'K';
    if (!strchr(current, 'l') && !strchr(current, 'A'))
        c->keybuf[n++] = 'l';
    c->keybuf[n] = '\0';
    arg_str(c, "CONFIG");
    arg_str(c, "SET");
    arg_str(c, "notify-keyspace-events");
    arg(c, c->keybuf, n);
}

static int is_bulk(const redisReply *r)
{
    return r &&
           (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

long store_parse_userinfo(const redisReply *flat, struct store_user **out)
{
    struct store_user *v;
    size_t n;

    *out = NULL;
    if (!flat || flat->type != REDIS_REPLY_ARRAY || flat->elements % 3)
        return -1;
    n = flat->elements / 3;
    v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const redisReply *u = flat->element[3 * i];
        const redisReply *j = flat->element[3 * i + 1];
        const redisReply *o = flat->element[3 * i + 2];
        if (!is_bulk(u)) {
            free(v);
            return -1;
        }
        v[i].uuid = u->str;
        if (is_bulk(j)) {
            v[i].name = j->str;
            v[i].name_len = j->len;
        }
        v[i].online = o && o->type == REDIS_REPLY_INTEGER && o->integer;
    }
    *out = v;
    return (long)n;
}

int store_parse_channel_read(const redisReply *r,
                             struct store_channel_result *out)
{
    memset(out, 0, sizeof *out);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_ARRAY ||
        r->element[2]->type != REDIS_REPLY_ARRAY)
        return -1;
    out->llen = (long)r->element[0]->integer;
    out->messages = r->element[1];
    out->userinfo = r->element[2];
    return 0;
}

int store_parse_poll(const redisReply *r, struct store_poll_result *out)
{
    memset(out, 0, sizeof *out);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 8)
        return -1;
    if (!is_bulk(r->element[0]) || !is_bulk(r->element[1]) ||
        r->element[2]->type != REDIS_REPLY_INTEGER || !is_bulk(r->element[3]) ||
        r->element[4]->type != REDIS_REPLY_INTEGER ||
        r->element[5]->type != REDIS_REPLY_ARRAY ||
        r->element[6]->type != REDIS_REPLY_ARRAY)
        return -1;
    /* pos counts the messages seen with this batch's: never fewer than
     * the batch has (the cursors before each start at pos - count), and
     * never negative (cursor_parse refuses it, so would the client's next
     * poll). */
    if (r->element[2]->integer < 0 ||
        (unsigned long long)r->element[2]->integer < r->element[6]->elements)
        return -1;
    out->sys_id = r->element[0]->str;
    out->jn = r->element[1]->str;
    out->pos = (long)r->element[2]->integer;
    out->channel = r->element[3]->str;
    out->reset = r->element[4]->integer != 0;
    out->events = r->element[5];
    out->messages = r->element[6];
    out->userinfo = r->element[7];
    return 0;
}
