/* longpoll.c - the answers of a long poll: what a read found, a body
 * rendered from a channel's room, nothing (timeout, drain) or an error.
 * Each one is the poll's only answer and ends the waiter. */
#include "common/jbuf.h"
#include "common/log.h"
#include "poller/metrics.h"
#include "poller/waiter.h"

void longpoll_answer_body(struct waiter *w, const char *body, size_t len,
                          long items)
{
    struct client *c;
    struct evhttp_request *req = waiter_take_request(w, &c);

    metrics.delivered += (unsigned long long)items;
    if (req)
        answer_poll(req, c, body, len);
    else
        client_release(c);
    waiter_end(w);
}

void longpoll_answer_error(struct waiter *w, const struct chat_error *e)
{
    struct client *c;
    struct evhttp_request *req = waiter_take_request(w, &c);

    client_release(c);
    if (req)
        answer_error(req, e);
    waiter_end(w);
}

static void answer_rendered(struct waiter *w, struct jbuf *b, int ok,
                            long items)
{
    struct chat_error e = {0};

    if (ok && !jbuf_failed(b)) {
        longpoll_answer_body(w, b->data, b->len, items);
        return;
    }
    chat_fail(&e, CHAT_E_INTERNAL, "cannot render the answer");
    longpoll_answer_error(w, &e);
}

void longpoll_answer_read(struct waiter *w, const struct store_poll_result *res,
                          long items)
{
    struct jbuf b;

    jbuf_init(&b);
    answer_rendered(w, &b, render_poll_json(&b, res, w->p.session) == 0, items);
    jbuf_free(&b);
}

void longpoll_answer_empty(struct waiter *w)
{
    struct jbuf b;
    char cur[CURSOR_MAX];

    waiter_cursor(w, cur);
    jbuf_init(&b);
    render_poll_answer(&b, cur, 0, NULL, 0, 0);
    answer_rendered(w, &b, 1, 0);
    jbuf_free(&b);
}
