/* hello_fcgi.c - the baseline of bench/api.sh: a FastCGI responder with
 * the same threading as chat.fcgi (CHAT_THREADS threads sharing fd 0) that
 * reads the request body and answers a fixed JSON object. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <fcgiapp.h>

static const char reply[] = "Status: 200 OK\r\n"
                            "Content-Type: application/json; charset=utf-8\r\n"
                            "Cache-Control: no-store\r\n"
                            "Content-Length: 17\r\n\r\n"
                            "{\"type\":\"hello\"}\n";

static void *worker(void *arg)
{
    FCGX_Request fr;
    char body[4096];

    (void)arg;
    if (FCGX_InitRequest(&fr, 0, 0) != 0)
        return NULL;
    while (FCGX_Accept_r(&fr) >= 0) {
        while (FCGX_GetStr(body, sizeof body, fr.in) > 0)
            ;
        if (FCGX_PutStr(reply, (int)sizeof reply - 1, fr.out) < 0)
            fprintf(stderr, "hello: write failed\n");
        FCGX_Finish_r(&fr);
    }
    return NULL;
}

int main(void)
{
    const char *env = getenv("CHAT_THREADS");
    long n = env ? strtol(env, NULL, 10) : 8;
    pthread_t tid;

    if (FCGX_Init() != 0)
        return 1;
    if (n < 1 || n > 256)
        n = 8;
    for (long i = 1; i < n; i++) {
        if (pthread_create(&tid, NULL, worker, NULL) != 0)
            return 1;
    }
    worker(NULL);
    return 0;
}
