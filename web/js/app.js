// app.js - the chat page: sign-in form, channel list, conversation.
// Everything a user typed reaches the page through textContent only.
import { ApiError, ERR_NO_SESSION, post } from "./api.js";
import { Poller } from "./delivery.js";
import { PUBLIC, Timeline, channelOf, humanTime, utf8Length, uuid4 } from "./store.js";
import { TabGroup } from "./tabs.js";
import { UnreadCounts, badgeText, noticeSender, pageTitle } from "./unread.js";

const STORAGE_KEY = "chat.auth.v1";
const USERS_REFRESH_MS = 30000; // "online" expires on the server after 60 s
const MAX_MESSAGE_BYTES = 4096;
// A tab with the focus takes the session back to its channel at most this
// often when another tab moved it (two windows side by side).
const TAKE_BACK_MS = 5000;
// A notice asks the server for the counts this much later (a burst of
// them asks once); the counts are also asked for with every users refresh.
const UNREAD_SETTLE_MS = 250;
const NOTIFY_KEY = "chat.notify.v1"; // "1": notifications wanted (a preference, not a secret)

const $ = (id) => document.getElementById(id);
const el = {
  skip: document.querySelector(".skip-link"),
  me: $("me"), meName: $("me-name"), signout: $("signout"), notify: $("notify"),
  announcer: $("announcer"), banner: $("banner"), bannerText: $("banner-text"), bannerRetry: $("banner-retry"),
  signinView: $("signin-view"), signinForm: $("signin-form"), username: $("username"),
  password: $("password"), signinError: $("signin-error"), signinSubmit: $("signin-submit"),
  chatView: $("chat-view"), rooms: $("rooms"), roomsEmpty: $("rooms-empty"),
  title: $("channel-title"), scroller: $("scroller"), messages: $("messages"), jump: $("jump"),
  messagesEmpty: $("messages-empty"), historyLoading: $("history-loading"),
  composer: $("composer"), input: $("message"), send: $("send"), composerError: $("composer-error"),
};

// ---------------------------------------------------------------- state

const state = {
  auth: null, // {key, session, user: {UUID, Username}}
  cursor: null,
  channel: PUBLIC, // "" = General, else the other user's UUID
  users: new Map(), // UUID -> {UUID, Username, OnLine}
  timelines: new Map(), // channel -> Timeline
  pending: new Map(), // channel -> [{id, text, status, error, node}]
  loading: false,
  joinWanted: PUBLIC,
  joined: null, // the channel the server has confirmed the session follows
  live: false, // the chat is set up: the leader may poll
  epoch: 0, // +1 at each sign-in and sign-out: late replies of the last one are dropped
};
let joinChain = Promise.resolve();
let usersTimer = 0;
let takenBack = 0;
const unread = new UnreadCounts();
let unreadTimer = 0;

const poller = new Poller({
  auth: () => state.auth && { session: state.auth.session, key: state.auth.key },
  cursor: () => state.cursor,
  badCursor: () => setCursor(null),
  batch: (reply) => onPollReply(reply, true),
  expired: renewSession,
  unauthorized: () => signedOutByServer(),
  status: (kind, info) => {
    showConnection(kind, info);
    tabs.status(kind, info);
  },
});

// The other tabs of this browser profile (tabs.js): one of them polls.
const tabs = new TabGroup({
  lead: () => {
    if (state.live) poller.start();
  },
  snapshot: () => state.auth && { auth: state.auth, cursor: state.cursor, joined: state.joined },
  adopt: adoptProfile,
  signedOut: (note) => {
    if (!state.auth) return;
    stopChat();
    el.signinError.textContent = note || "Signed out in another tab.";
  },
  batch: (reply, key) => {
    if (state.auth && key === state.auth.key) onPollReply(reply, false);
  },
  followed: (ch, session, messages) => {
    if (!state.auth || session !== state.auth.session) return;
    for (const m of messages) addMessage(m); // the gap up to where the poll starts
    state.joined = ch;
    unread.clear(ch); // another tab opened it: read there
    renderRooms();
    if (ch !== state.channel && document.hasFocus() && Date.now() - takenBack > TAKE_BACK_MS) {
      takenBack = Date.now();
      joinChannel(state.channel);
    }
  },
  status: (kind, info) => {
    if (state.auth && !tabs.leading) showConnection(kind, info);
  },
  kick: () => poller.kick(),
});

// Another tab signed in, renewed the session, or answered our hello.
function adoptProfile(p) {
  if (state.auth && state.auth.key === p.auth.key) {
    if (state.auth.session === p.auth.session) return;
    state.auth.session = p.auth.session; // renewed by that tab
    state.cursor = p.cursor || null;
    state.joined = p.joined || null;
    save();
    if (document.hasFocus() && state.joined !== state.channel) joinChannel(state.channel);
    return;
  }
  const sameUser = state.auth && state.auth.user.UUID === p.auth.user.UUID;
  startChat(p.auth, p.cursor || null, sameUser ? state.channel : PUBLIC);
}

function retryNow() {
  if (tabs.leading) poller.kick();
  else tabs.kickLeader();
}

function save() {
  if (!state.auth) {
    sessionStorage.removeItem(STORAGE_KEY);
    return;
  }
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({
    key: state.auth.key, session: state.auth.session, user: state.auth.user,
    cursor: state.cursor, channel: state.channel,
  }));
}

function load() {
  try {
    const v = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    if (v && typeof v.key === "string" && typeof v.session === "string" && v.user &&
        typeof v.user.UUID === "string" && typeof v.user.Username === "string") return v;
  } catch {
    /* a damaged entry: sign in again */
  }
  return null;
}

function setCursor(c) {
  state.cursor = c || null;
  save();
}

function timeline(ch) {
  if (!state.timelines.has(ch)) state.timelines.set(ch, new Timeline());
  return state.timelines.get(ch);
}

function pendingOf(ch) {
  if (!state.pending.has(ch)) state.pending.set(ch, []);
  return state.pending.get(ch);
}

// Calls /api as the signed-in user.
function api(obj, opts) {
  return post(obj, state.auth && state.auth.key, opts);
}

// ---------------------------------------------------------------- views

function show(view) {
  el.signinView.hidden = view !== "signin";
  el.chatView.hidden = view !== "chat";
  el.me.hidden = view !== "chat";
  el.signout.hidden = view !== "chat";
  el.skip.hidden = view !== "chat";
  if (view === "chat") showNotifyButton();
  else el.notify.hidden = true;
}

function setBusy(button, busy) {
  button.disabled = busy;
  button.setAttribute("aria-busy", busy ? "true" : "false");
  const spin = button.querySelector(".spinner");
  if (spin) spin.hidden = !busy;
}

// Screen readers hear each change of state once (the visible banner's
// countdown is not a live region).
function announce(text) {
  if (el.announcer.textContent !== text) el.announcer.textContent = text;
}

let bannerTicker = 0;
function showConnection(kind, info = {}) {
  clearInterval(bannerTicker);
  const was = el.banner.dataset.state;
  el.banner.dataset.state = kind;
  if (kind === "online") {
    if (was && was !== "online" && info.recovered) announce("Connected again.");
    el.banner.hidden = true;
    el.bannerRetry.hidden = true;
    if (info.recovered) {
      refreshUsers().catch(() => {});
      // A join that failed while we were cut off: the server does not yet
      // send us this channel's messages. (With other tabs, the one the
      // user looks at decides which channel the session follows.)
      if (state.joined !== state.channel && (!tabs.shared || document.hasFocus())) joinChannel(state.channel);
    }
    return;
  }
  el.banner.hidden = false;
  el.bannerRetry.hidden = kind === "connecting";
  if (kind === "connecting") {
    el.bannerText.textContent = info.retry ? "Reconnecting…" : "Connecting…";
    if (!info.retry) announce("Connecting…");
    return;
  }
  const until = Date.now() + (info.delayMs || 0);
  const what = kind === "offline"
    ? "Offline: cannot reach the chat server."
    : `Live updates paused: ${info.error ? info.error.message : "the server is unavailable."}`;
  const tick = () => {
    const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    el.bannerText.textContent = `${what} Retrying in ${s} s.`;
  };
  tick();
  announce(what);
  bannerTicker = setInterval(tick, 1000);
}

function describe(err) {
  if (!(err instanceof ApiError)) return "Something went wrong. Please try again.";
  if ((err.status === 429 || err.status === 503) && err.retryAfterMs) {
    return `${err.message} (try again in ${Math.ceil(err.retryAfterMs / 1000)} s)`;
  }
  return err.message;
}

function userName(uuid) {
  const u = state.users.get(uuid);
  return u ? u.Username : "someone";
}

function channelTitle(ch) {
  return ch === PUBLIC ? "General" : `Private chat with ${userName(ch)}`;
}

// The channel list: General, then every user in registration order.
function renderRooms() {
  if (!state.auth) return;
  const items = [];
  items.push(roomItem(PUBLIC, "General", null));
  let others = 0;
  for (const u of state.users.values()) {
    if (u.UUID === state.auth.user.UUID) continue;
    others += 1;
    items.push(roomItem(u.UUID, u.Username, !!u.OnLine));
  }
  const self = state.users.get(state.auth.user.UUID) || { ...state.auth.user, OnLine: true };
  items.push(selfItem(self));
  el.rooms.replaceChildren(...items);
  el.roomsEmpty.hidden = others > 0;
  showTitle();
}

function dot(online) {
  const d = document.createElement("span");
  d.className = `dot ${online ? "online" : "offline"}`;
  d.setAttribute("aria-hidden", "true");
  return d;
}

function roomItem(ch, name, online) {
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.className = "room";
  b.dataset.channel = ch;
  if (online !== null) {
    b.dataset.online = String(online);
    b.append(dot(online));
  } else {
    const icon = document.createElement("span");
    icon.className = "room-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "#";
    b.append(icon);
  }
  const label = document.createElement("span");
  label.className = "room-name";
  label.textContent = name;
  b.append(label);
  if (online !== null) {
    const sr = document.createElement("span");
    sr.className = "visually-hidden";
    sr.textContent = online ? ", online" : ", offline";
    b.append(sr);
  }
  const n = unreadOf(ch);
  if (n > 0) b.append(unreadBadge(n));
  if (ch === state.channel) b.setAttribute("aria-current", "page");
  b.addEventListener("click", () => openChannel(ch, true));
  li.append(b);
  return li;
}

// ---------------------------------------------------------------- unread

// Channels this tab counts as read: the one it shows and the one the
// session follows (its messages reach the profile as they come).
function readChannels() {
  return [state.channel, state.joined].filter((c) => c !== null);
}

function unreadOf(ch) {
  return readChannels().includes(ch) ? 0 : unread.get(ch);
}

function unreadBadge(n) {
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.dataset.count = String(n);
  badge.setAttribute("aria-hidden", "true");
  badge.textContent = badgeText(n);
  const sr = document.createElement("span");
  sr.className = "visually-hidden";
  sr.textContent = `, ${n} unread`;
  const wrap = document.createDocumentFragment();
  wrap.append(badge, sr);
  return wrap;
}

function showTitle() {
  document.title = state.auth ? pageTitle(unread.total(readChannels())) : pageTitle(0);
}

// The server's counts, asked for now (after a burst of notices, once).
function refreshUnread(delayMs = 0) {
  clearTimeout(unreadTimer);
  unreadTimer = setTimeout(async () => {
    if (!state.auth) return;
    const epoch = state.epoch;
    const gen = unread.gen;
    try {
      const r = await api({ type: "unread" });
      if (epoch === state.epoch && unread.load(r, gen)) renderRooms();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) signedOutByServer(err);
      // else: the next refresh brings them
    }
  }, delayMs);
}

// A private message's notice (never its text): a badge at once, the
// server's count soon after, and a browser notification when asked for.
function onNotice(o) {
  const from = noticeSender(o, state.auth.user.UUID);
  if (!from) return false;
  if (o.user) mergeUser(o.user, true);
  const id = o.sys.channelMessage.UUID;
  if (!unread.fresh(id)) return false;
  // the channel shown or followed gets the message itself: read
  if (!readChannels().includes(from)) {
    unread.bump(from);
    refreshUnread(UNREAD_SETTLE_MS);
  }
  notifyHidden(from, id);
  return true;
}

function notificationsWanted() {
  return typeof Notification === "function" && Notification.permission === "granted" &&
    localStorage.getItem(NOTIFY_KEY) === "1";
}

// While the tab is hidden: one notification per message (the tag lets the
// browser show one for all the tabs of the profile that get it).
function notifyHidden(from, id) {
  if (document.visibilityState !== "hidden" || !notificationsWanted()) return;
  try {
    const n = new Notification(userName(from), {
      body: "sent you a private message", tag: `rcg-chat-${id}`,
    });
    n.onclick = () => {
      window.focus();
      openChannel(from, true);
      n.close();
    };
  } catch {
    /* a browser that only notifies from a service worker: the badge stays */
  }
}

function showNotifyButton() {
  const supported = typeof Notification === "function";
  el.notify.hidden = !supported || !state.auth;
  if (!supported) return;
  const on = notificationsWanted();
  el.notify.setAttribute("aria-pressed", on ? "true" : "false");
  el.notify.textContent = on ? "Notifications on" : "Notify me";
  el.notify.disabled = Notification.permission === "denied";
  el.notify.title = Notification.permission === "denied"
    ? "Notifications are blocked for this site in the browser's settings."
    : "Tell me of private messages while this tab is hidden.";
}

// Permission is asked for here only: after a click, never on load.
async function toggleNotify() {
  if (typeof Notification !== "function") return;
  if (notificationsWanted()) {
    localStorage.removeItem(NOTIFY_KEY);
  } else {
    let p = Notification.permission;
    if (p === "default") p = await Notification.requestPermission();
    if (p === "granted") localStorage.setItem(NOTIFY_KEY, "1");
  }
  showNotifyButton();
}

function selfItem(u) {
  const li = document.createElement("li");
  li.className = "room room-self";
  li.dataset.user = u.UUID;
  li.append(dot(true));
  const label = document.createElement("span");
  label.className = "room-name";
  label.textContent = `${u.Username} (you)`;
  li.append(label);
  return li;
}

function messageNode(m, own) {
  const li = document.createElement("li");
  li.className = `msg ${own ? "own" : "other"}`;
  if (m.UUID) li.dataset.uuid = m.UUID;
  const head = document.createElement("div");
  head.className = "msg-head";
  const who = document.createElement("span");
  who.className = "msg-sender";
  who.textContent = (m.Sender && m.Sender.Username) || userName(m.SenderUUID);
  head.append(who);
  if (m.CreatedAt) {
    const t = humanTime(m.CreatedAt);
    const time = document.createElement("time");
    time.className = "msg-time";
    time.dateTime = m.CreatedAt;
    time.title = t.full;
    time.textContent = t.short;
    head.append(" ", time);
  }
  const body = document.createElement("p");
  body.className = "msg-text";
  body.textContent = m.Message; // text, never HTML
  li.append(head, body);
  return li;
}

function pendingNode(p) {
  const li = messageNode({ Message: p.text, Sender: state.auth.user }, true);
  li.classList.add("pending");
  const st = document.createElement("div");
  st.className = "msg-status";
  li.append(st);
  p.node = li;
  updatePendingNode(p);
  return li;
}

function updatePendingNode(p) {
  const li = p.node;
  const st = li.querySelector(".msg-status");
  st.replaceChildren();
  li.classList.toggle("failed", p.status === "failed");
  if (p.status === "sending") {
    const spin = document.createElement("span");
    spin.className = "spinner";
    spin.setAttribute("aria-hidden", "true");
    st.append(spin, " Sending…");
    return;
  }
  const text = document.createElement("span");
  text.textContent = `Not sent: ${p.error} `;
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "btn btn-small";
  retry.textContent = "Retry";
  retry.addEventListener("click", () => resend(p));
  const drop = document.createElement("button");
  drop.type = "button";
  drop.className = "btn btn-small btn-quiet";
  drop.textContent = "Discard";
  drop.addEventListener("click", () => discard(p));
  st.append(text, retry, " ", drop);
}

function nearBottom() {
  const s = el.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

function scrollToBottom() {
  el.scroller.scrollTop = el.scroller.scrollHeight;
  el.jump.hidden = true;
}

function updateEmpty() {
  const tl = timeline(state.channel);
  const none = tl.size === 0 && pendingOf(state.channel).length === 0;
  el.historyLoading.hidden = !(none && state.loading);
  el.messagesEmpty.hidden = !(none && !state.loading);
  // The list itself stays shown (empty): a live region must exist before
  // its first addition for screen readers to announce it.
}

function renderMessages() {
  if (!state.auth) return;
  const me = state.auth.user.UUID;
  const nodes = timeline(state.channel).items.map((m) => messageNode(m, m.SenderUUID === me));
  for (const p of pendingOf(state.channel)) nodes.push(pendingNode(p));
  // A channel switch is not news: keep screen readers from reading it all.
  el.messages.setAttribute("aria-busy", "true");
  el.messages.replaceChildren(...nodes);
  requestAnimationFrame(() => el.messages.removeAttribute("aria-busy"));
  updateEmpty();
  scrollToBottom();
}

// Adds a stored message (a reply or a push) to its channel, once.
function addMessage(m) {
  if (!state.auth || !m || typeof m !== "object" || !m.UUID) return;
  const me = state.auth.user.UUID;
  const ch = channelOf(m, me);
  const tl = timeline(ch);
  const i = tl.add(m);
  if (i < 0) return; // seen already (reply and push of the same message)
  if (m.SenderUUID === me) settlePendingByText(ch, m.Message);
  if (ch !== state.channel) return;
  const stick = nearBottom() || m.SenderUUID === me;
  const confirmed = [...el.messages.children].filter((n) => !n.classList.contains("pending"));
  el.messages.insertBefore(messageNode(m, m.SenderUUID === me), confirmed[i] || firstPendingNode());
  updateEmpty();
  if (stick) scrollToBottom();
  else if (i === tl.size - 1) el.jump.hidden = false; // the user is reading older ones
}

function firstPendingNode() {
  return el.messages.querySelector(".msg.pending");
}

// Our own message came back (as a push, perhaps before the reply): the
// oldest in-flight copy with the same text is done.
function settlePendingByText(ch, text) {
  const list = pendingOf(ch);
  const i = list.findIndex((p) => p.status === "sending" && p.text === text && !p.settled);
  if (i < 0) return;
  const [p] = list.splice(i, 1);
  p.settled = true;
  if (p.node) p.node.remove();
  updateEmpty();
}

// ---------------------------------------------------------------- users

function mergeUser(u, online) {
  if (!u || typeof u.UUID !== "string") return;
  const old = state.users.get(u.UUID);
  const next = {
    UUID: u.UUID,
    Username: typeof u.Username === "string" && u.Username !== "" ? u.Username
      : old ? old.Username : u.UUID.slice(0, 8),
    OnLine: online === undefined ? !!u.OnLine : online,
  };
  state.users.set(u.UUID, next);
}

async function refreshUsers() {
  const epoch = state.epoch;
  const all = [];
  let total = Infinity;
  for (let page = 0; all.length < total && page < 20; page++) {
    const r = await api({ type: "users", users: { offset: all.length, limit: 1000 } });
    if (epoch !== state.epoch) return;
    const got = (r.users && Array.isArray(r.users.users)) ? r.users.users : [];
    total = r.users && Number.isInteger(r.users.total) ? r.users.total : got.length;
    all.push(...got);
    if (got.length === 0) break;
  }
  const fresh = new Map();
  for (const u of all) {
    if (u && typeof u.UUID === "string") {
      fresh.set(u.UUID, { UUID: u.UUID, Username: u.Username, OnLine: !!u.OnLine });
    }
  }
  state.users = fresh;
  renderRooms();
  if (state.channel !== PUBLIC) el.title.textContent = channelTitle(state.channel);
}

function scheduleUsersRefresh() {
  clearInterval(usersTimer);
  usersTimer = setInterval(() => {
    refreshUsers().catch((err) => {
      if (err instanceof ApiError && err.status === 401) signedOutByServer();
    });
    refreshUnread(); // the public channel's count, for a tab on a private one
  }, USERS_REFRESH_MS);
}

// ---------------------------------------------------------------- pushes

// own: this tab polled it (and passes it on to the other tabs).
async function onPollReply(reply, own) {
  if (!state.auth) return;
  if (own) tabs.batch(reply, state.auth.key);
  const msgs = Array.isArray(reply.messages) ? reply.messages : [];
  let roomsChanged = false;
  for (const o of msgs) {
    if (!o || typeof o !== "object") continue;
    if (o.type === "channelMessage") addMessage(o.channelMessage);
    else if (o.type === "sys") roomsChanged = onSys(o) || roomsChanged;
    // channelLeave pushes change nobody's online state: nothing to show.
  }
  if (roomsChanged) renderRooms();
  setCursor(reply.cursor || state.cursor);
  if (reply.reset) {
    // Our cursor was older than what the server keeps: reload history.
    // A tab whose channel the session does not follow reloads when it
    // takes the session back.
    if (!tabs.shared || state.joined === state.channel) await joinChannel(state.channel);
    else state.joined = null;
  }
}

function onSys(o) {
  const sys = o.sys || {};
  if (sys.type === "signIn" && sys.signIn) {
    mergeUser({ UUID: sys.signIn.uuid, Username: sys.signIn.username }, true);
    return true;
  }
  if (sys.type === "signOut" && sys.signOut) {
    mergeUser({ UUID: sys.signOut.uuid, Username: sys.signOut.username }, false);
    return true;
  }
  if (sys.type === "channelJoin") {
    if (o.user) mergeUser(o.user, true);
    else if (o.userUUID) mergeUser({ UUID: o.userUUID }, true);
    return true;
  }
  if (sys.type === "channelMessage") return onNotice(o);
  return false;
}

// ---------------------------------------------------------------- channels

function openChannel(ch, focusComposer) {
  if (!state.auth) return;
  if (unread.clear(ch)) renderRooms(); // the join reads it on the server too
  if (ch !== state.channel) {
    state.channel = ch;
    save();
    el.title.textContent = channelTitle(ch);
    for (const b of el.rooms.querySelectorAll("button.room")) {
      if (b.dataset.channel === ch) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    showTitle();
    el.composerError.textContent = "";
    renderMessages();
  }
  joinChannel(ch).catch(() => {});
  if (focusComposer) el.input.focus();
}

// channelJoin, one at a time, so the server follows the channel the page
// shows even after quick clicks.
function joinChannel(ch) {
  state.joinWanted = ch;
  joinChain = joinChain.then(() => doJoin(ch)).catch(() => {});
  return joinChain;
}

async function doJoin(ch) {
  if (!state.auth || state.joinWanted !== ch) return; // a later click won
  const epoch = state.epoch;
  state.loading = true;
  updateEmpty();
  try {
    let r;
    try {
      r = await api({ type: "channelJoin", sessionUUID: state.auth.session, channelJoin: { recipientUUID: ch } });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404 || err.code !== ERR_NO_SESSION) throw err;
      await newSession(); // the session expired: a fresh one, bound by this join
      r = await api({ type: "channelJoin", sessionUUID: state.auth.session, channelJoin: { recipientUUID: ch } });
    }
    if (epoch !== state.epoch) return; // signed out meanwhile
    state.joined = ch;
    unread.clear(ch);
    refreshUnread(); // the channel left is read to its end now (contract §2)
    const j = r.channelJoin || {};
    const history = Array.isArray(j.messages) ? j.messages : [];
    tabs.follow(ch, state.auth.session, history);
    for (const m of history) addMessage(m);
    if (Array.isArray(j.users)) for (const u of j.users) mergeUser(u);
    renderRooms();
    if (state.channel === ch) el.title.textContent = channelTitle(ch);
  } catch (err) {
    if (epoch !== state.epoch) return;
    state.joined = null;
    if (err instanceof ApiError && err.status === 401) {
      signedOutByServer();
      return;
    }
    if (state.channel === ch) {
      el.composerError.textContent = `Could not open ${channelTitle(ch)}: ${describe(err)}`;
      if (ch !== PUBLIC && err instanceof ApiError && err.status === 404) openChannel(PUBLIC, false);
    }
  } finally {
    state.loading = false;
    if (state.auth) updateEmpty();
  }
}

async function newSession() {
  const auth = state.auth;
  const r = await post({ type: "ready" });
  if (state.auth !== auth) throw new Error("signed out meanwhile");
  state.auth.session = r.ready.sessionUUID;
  state.cursor = null;
  state.joined = null;
  save();
  tabs.signedIn({ auth: state.auth, cursor: null, joined: null });
}

// The poll said 404: the session expired. A new one, joined to our channel.
async function renewSession() {
  await newSession();
  await joinChannel(state.channel);
  await refreshUsers();
}

// ---------------------------------------------------------------- sending

function composerText() {
  return el.input.value;
}

function onSubmit(e) {
  e.preventDefault();
  const text = composerText();
  if (text.trim() === "") {
    el.composerError.textContent = "Type a message first.";
    return;
  }
  const bytes = utf8Length(text);
  if (bytes > MAX_MESSAGE_BYTES) {
    el.composerError.textContent = `That message is too long (${bytes} bytes; at most ${MAX_MESSAGE_BYTES}).`;
    return;
  }
  el.composerError.textContent = "";
  el.input.value = "";
  autosize();
  // clientId: the server stores a retry of the same id once (a 503 or a
  // timeout may have been stored after all)
  const p = { clientId: uuid4(), text, channel: state.channel,
    status: "sending", error: "", epoch: state.epoch };
  pendingOf(p.channel).push(p);
  if (p.channel === state.channel) {
    el.messages.append(pendingNode(p));
    updateEmpty();
    scrollToBottom();
  }
  deliver(p);
}

async function deliver(p) {
  try {
    const r = await api({ type: "channelMessage",
      channelMessage: { recipientUUID: p.channel, message: p.text, clientId: p.clientId } });
    if (p.epoch !== state.epoch) return; // signed out meanwhile
    settle(p);
    addMessage(r.channelMessage);
  } catch (err) {
    if (p.settled || p.epoch !== state.epoch) return; // stored after all, or signed out meanwhile
    if (err instanceof ApiError && err.status === 401) {
      signedOutByServer();
      return;
    }
    p.status = "failed";
    p.error = describe(err);
    if (p.node) updatePendingNode(p);
  }
}

function settle(p) {
  const list = pendingOf(p.channel);
  const i = list.indexOf(p);
  if (i >= 0) list.splice(i, 1);
  p.settled = true;
  if (p.node) p.node.remove();
  if (state.auth) updateEmpty();
}

function resend(p) {
  p.status = "sending";
  updatePendingNode(p); // removes the focused Retry button
  el.input.focus();
  deliver(p);
}

function discard(p) {
  settle(p);
  el.input.focus();
}

function autosize() {
  el.input.style.height = "auto";
  el.input.style.height = `${Math.min(el.input.scrollHeight, 160)}px`;
}

// ---------------------------------------------------------------- sign in / out

async function onSignIn(e) {
  e.preventDefault();
  const username = el.username.value.trim();
  const password = el.password.value;
  el.signinError.textContent = "";
  if (!username) {
    el.signinError.textContent = "Please enter a name.";
    el.username.focus();
    return;
  }
  if (!password) {
    el.signinError.textContent = "Please enter a password.";
    el.password.focus();
    return;
  }
  setBusy(el.signinSubmit, true);
  try {
    const ready = await post({ type: "ready" });
    const session = ready.ready.sessionUUID;
    const r = await post({ type: "signIn", sessionUUID: session, signIn: { username, password } });
    // Who we are comes from this reply (the original client took it from
    // whichever sys/signIn came last).
    const user = r.user && r.user.UUID ? r.user
      : { UUID: r.authorized.userUUID, Username: username, OnLine: true };
    el.password.value = "";
    const auth = { key: r.authorized.accessKey, session, user: { UUID: user.UUID, Username: user.Username } };
    tabs.signedIn({ auth, cursor: null, joined: null }); // every tab of the profile
    startChat(auth, null, PUBLIC);
  } catch (err) {
    let words = describe(err);
    if (err instanceof ApiError && err.status === 401) words = "Wrong password for this name.";
    el.signinError.textContent = words;
    el.password.focus();
  } finally {
    setBusy(el.signinSubmit, false);
  }
}

async function startChat(auth, cursor, channel) {
  state.epoch += 1;
  poller.stop(); // another sign-in replaces this one
  state.live = false;
  state.auth = auth;
  state.cursor = cursor;
  state.channel = channel;
  state.joined = null;
  state.users = new Map([[auth.user.UUID, { ...auth.user, OnLine: true }]]);
  state.timelines = new Map();
  state.pending = new Map();
  unread.reset();
  save();
  el.meName.textContent = auth.user.Username;
  el.title.textContent = channelTitle(channel);
  show("chat");
  renderRooms();
  renderMessages();
  el.input.focus();
  try {
    await refreshUsers(); // also checks that a stored key still works
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      signedOutByServer();
      return;
    }
    el.composerError.textContent = `Could not load the user list: ${describe(err)}`;
  }
  if (!state.auth) return;
  el.title.textContent = channelTitle(state.channel);
  const epoch = state.epoch;
  await joinChannel(state.channel); // the user may have clicked another one meanwhile
  if (!state.auth || epoch !== state.epoch) return;
  refreshUnread();
  showNotifyButton();
  scheduleUsersRefresh();
  state.live = true;
  if (tabs.leading) poller.start();
}

function stopChat() {
  state.epoch += 1;
  state.live = false;
  poller.stop();
  clearInterval(usersTimer);
  clearTimeout(unreadTimer);
  clearInterval(bannerTicker);
  el.banner.hidden = true;
  delete el.banner.dataset.state;
  el.announcer.textContent = "";
  state.auth = null;
  state.cursor = null;
  state.timelines = new Map();
  state.pending = new Map();
  unread.reset();
  save();
  el.messages.replaceChildren();
  el.rooms.replaceChildren();
  showTitle();
  show("signin");
}

// The server no longer knows our key (signed out elsewhere, expired).
function signedOutByServer() {
  if (!state.auth) return;
  const name = state.auth.user.Username;
  stopChat();
  tabs.signedOut("Your sign-in has ended (signed out or expired). Please sign in again.");
  el.username.value = name;
  el.signinError.textContent = "Your sign-in has ended (signed out or expired). Please sign in again.";
  el.password.focus();
}

async function onSignOut() {
  if (!state.auth) return;
  const key = state.auth.key;
  const session = state.auth.session;
  setBusy(el.signout, true);
  let note = "";
  try {
    await post({ type: "signOut", sessionUUID: session }, key, { timeoutMs: 8000 });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) {
      note = `Signed out on this device, but the server could not be told: ${describe(err)}`;
    }
  } finally {
    setBusy(el.signout, false);
  }
  stopChat();
  tabs.signedOut("Signed out in another tab.");
  el.signinError.textContent = note;
  el.username.focus();
}

// ---------------------------------------------------------------- wiring

el.signinForm.addEventListener("submit", onSignIn);
el.signout.addEventListener("click", onSignOut);
el.notify.addEventListener("click", () => {
  toggleNotify().catch(() => showNotifyButton());
});
el.composer.addEventListener("submit", onSubmit);
el.input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    el.composer.requestSubmit();
  }
});
el.input.addEventListener("input", () => {
  autosize();
  if (el.composerError.textContent && composerText().trim() !== "") el.composerError.textContent = "";
});
el.bannerRetry.addEventListener("click", retryNow);
el.scroller.addEventListener("scroll", () => {
  if (!el.jump.hidden && nearBottom()) el.jump.hidden = true;
}, { passive: true });
el.jump.addEventListener("click", () => {
  scrollToBottom();
  el.input.focus();
});
window.addEventListener("online", retryNow);
// A tab the user turns to takes the session to its channel (another tab
// may have moved it).
function takeSessionBack() {
  if (state.live && state.joined !== state.channel) joinChannel(state.channel);
}
window.addEventListener("focus", takeSessionBack);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  poller.revive();
  takeSessionBack();
  if (state.live) refreshUnread();
});

async function boot() {
  const { profile } = await tabs.start();
  const stored = load();
  const channel = stored && typeof stored.channel === "string" ? stored.channel : PUBLIC;
  if (profile && profile.auth) {
    // the profile is signed in: this tab too
    const sameUser = stored && stored.user.UUID === profile.auth.user.UUID;
    startChat(profile.auth, profile.cursor || null, sameUser ? channel : PUBLIC);
  } else if (stored) {
    const auth = { key: stored.key, session: stored.session, user: stored.user };
    tabs.signedIn({ auth, cursor: stored.cursor || null, joined: null });
    startChat(auth, stored.cursor || null, channel);
  } else {
    show("signin");
    el.username.focus();
  }
}
boot();
