/* pollreq.c - validation of the poll parameters shared by both programs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/pollreq.h"
#include "common/proto.h"

static enum chat_err parse_timeout(const char *s, int *out,
                                   struct chat_error *e)
{
    long v = 0;
    size_t n = strlen(s);

    /* An integer 0..POLLREQ_TIMEOUT_MAX: digits only, no sign, no spaces. */
    if (n == 0 || n > 3)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            goto bad;
        v = v * 10 + (s[i] - '0');
    }
    if (v > POLLREQ_TIMEOUT_MAX)
        goto bad;
    *out = (int)v;
    return CHAT_OK;
bad:
    return chat_fail(e, CHAT_E_BAD_PARAM, POLLREQ_TIMEOUT_ERROR);
}

enum chat_err pollreq_parse(const struct pollreq_in *in, struct pollreq *out,
                            struct chat_error *e)
{
    const char *key, *cur;

    memset(out, 0, sizeof *out);
    out->timeout = POLLREQ_TIMEOUT_DEFAULT;
    if (!in->session || !in->session[0])
        return chat_fail(e, CHAT_E_BAD_UUID, "sessionUUID is required");
    if (proto_uuid(in->session, "sessionUUID", out->session, e) != CHAT_OK)
        return e->err;
    key = in->bearer && in->bearer[0] ? in->bearer : in->key;
    if (!key || !key[0])
        return chat_fail(e, CHAT_E_NO_KEY, NULL);
    if (strlen(key) > PROTO_KEY_MAX)
        return chat_fail(e, CHAT_E_BAD_KEY, NULL);
    snprintf(out->key, sizeof out->key, "%s", key);
    cur = in->last_id && in->last_id[0] ? in->last_id : in->cursor;
    if (cur && cur[0]) {
        if (cursor_parse(cur, out->session, &out->cur, e) != CHAT_OK)
            return e->err;
        out->has_cursor = 1;
    }
    if (in->timeout && parse_timeout(in->timeout, &out->timeout, e))
        return e->err;
    if (in->max_hold > 0 && out->timeout > in->max_hold)
        out->timeout = in->max_hold;
    return CHAT_OK;
}

void pollreq_call(struct store_call *c, const struct config *cfg,
                  const struct pollreq *p)
{
    store_poll(c, cfg, p->key, p->session, p->has_cursor ? p->cur.jn : "",
               p->has_cursor ? p->cur.sys : "", p->has_cursor ? p->cur.pos : 0,
               p->has_cursor ? p->cur.chk : "", POLLREQ_BATCH,
               p->has_cursor ? p->cur.nid : "");
}
