/* poll_slots.c - hold slots for /poll inside chat.fcgi. */
#include <assert.h>
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#include "common/auth.h"
#include "common/log.h"
#include "common/store.h"
#include "fcgi/poll_slots.h"

static atomic_int local_holders;

static int local_limit(const struct config *cfg)
{
    int keep = cfg->threads / 4 > 0 ? cfg->threads / 4 : 1;
    return cfg->threads - keep;
}

int poll_slot_take(struct db *db, const struct config *cfg, int hold_s,
                   struct poll_slot *s)
{
    struct store_call c;
    struct chat_error e = {0};
    redisReply *r = NULL;
    int taken;

    assert(!s->held); /* one slot per poll: a second take leaks the first */
    memset(s, 0, sizeof *s);
    if (cfg->poll_hold_slots == 0) {
        if (atomic_fetch_add(&local_holders, 1) >= local_limit(cfg)) {
            atomic_fetch_sub(&local_holders, 1);
            return 0;
        }
        s->held = 1;
        return 1;
    }
    auth_new_uuid(s->token);
    /* a crashed holder's slot expires a little after its longest hold */
    store_hold_take(&c, s->token, hold_s + 5, cfg->poll_hold_slots);
    if (db_call(db, &c, &r, &e) != CHAT_OK)
        return 0;
    taken = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    s->held = taken ? 2 : 0;
    return taken;
}

void poll_slot_give(struct db *db, const struct config *cfg,
                    struct poll_slot *s)
{
    struct store_call c;
    struct chat_error e = {0};
    redisReply *r = NULL;

    (void)cfg;
    if (s->held == 1) {
        int before = atomic_fetch_sub(&local_holders, 1);
        assert(before > 0); /* each local slot is given back once */
        (void)before;
    }
    if (s->held == 2) {
        store_hold_give(&c, s->token);
        if (db_call(db, &c, &r, &e) == CHAT_OK)
            freeReplyObject(r);
        else
            log_info("hold slot %.8s left to expire", s->token);
    }
    s->held = 0;
}

int poll_slot_retry_ms(void)
{
    return POLL_SLOTS_RETRY_MIN_MS +
           (int)randombytes_uniform(POLL_SLOTS_RETRY_MAX_MS -
                                    POLL_SLOTS_RETRY_MIN_MS + 1);
}
