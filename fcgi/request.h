/* request.h - the HTTP edge of chat.fcgi: a FastCGI request (or the CGI
 * environment and stdin) into struct request, struct reply back out. The
 * only file that includes <fcgiapp.h>. */
#ifndef CHAT_REQUEST_H
#define CHAT_REQUEST_H

#include <stddef.h>

#include "common/errors.h"
#include "common/jbuf.h"
#include "common/proto.h"

struct request {
    char method[16];
    char path[256];   /* PATH_INFO, else REQUEST_URI without the query */
    int bare_script;  /* the request names the script itself (CGI) */
    char query[1024]; /* QUERY_STRING ("" when absent or too long) */
    int query_too_long;
    /* from Authorization: Bearer, or ""; one byte more than a key may
     * have, so a longer one, cut here, is still refused */
    char bearer[PROTO_KEY_MAX + 2];
    char last_event_id[128];
    char origin[256]; /* the Origin header, "" when absent */
    char addr[64];    /* REMOTE_ADDR if it is an address, else "" */
    char *body;       /* owned, NUL-terminated; NULL when none */
    size_t body_len;
    int body_too_large; /* CONTENT_LENGTH > PROTO_BODY_MAX */
};

struct reply {
    int status;               /* 204: no body */
    int retry_after;          /* seconds for 429/503 (at least 1 is sent) */
    const char *content_type; /* default JSON */
    const char *allow;        /* the route's methods (405, OPTIONS) */
    const char *cors_origin;  /* an allowed Origin (borrowed), or NULL */
    int preflight;            /* the answer to a CORS preflight */
    int sent;                 /* set by reply_write_*: answered once */
    struct jbuf body;
};

struct FCGX_Request;

void reply_init(struct reply *r);
void reply_free(struct reply *r);
/* Replaces the body with the JSON error of e (an error: not CHAT_OK) and
 * sets the status; only before the reply is written. */
void reply_error(struct reply *r, const struct chat_error *e);

/* Reads the request of a FastCGI request / of the CGI environment.
 * Returns 0, or -1 when it cannot be read at all (client gone). */
int request_read_fcgi(struct request *rq, struct FCGX_Request *fr);
int request_read_cgi(struct request *rq);

/* Nonzero when the environment is a CGI request's (REQUEST_METHOD set). */
int request_is_cgi_env(void);
void request_free(struct request *rq); /* NULL-safe */

/* Writes the reply, once per request (r->sent); returns 0 or -1 when the
 * client is gone. */
int reply_write_fcgi(struct reply *r, struct FCGX_Request *fr);
int reply_write_cgi(struct reply *r);

/* Ends a FastCGI request (sends the output, closes the connection); the
 * request is ready for the next FCGX_Accept_r(). */
void request_finish_fcgi(struct FCGX_Request *fr);

/* Value of a query parameter, URL-decoded into out. Returns 1 when present,
 * 0 when absent, -1 when malformed or longer than outsz. */
int request_query_param(const struct request *rq, const char *name, char *out,
                        size_t outsz);

#endif
