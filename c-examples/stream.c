/* stream: response bodies written in pieces.
 *   GET /lines?n=N       N lines, chunked, written by the handler itself,
 *                        with an X-Lines trailer
 *   GET /sized           "hello world" in two pieces, with Content-Length
 *   GET /firehose?mib=M  M MiB written by a producer thread as fast as the
 *                        client reads: it waits for FASTSERVE_STREAM_WRITABLE
 *                        whenever its budget is used up
 *   GET /stats           the producers' counters
 * Usage: stream [host] [port]   (default 127.0.0.1 8082) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastserve.h"

static fastserve_server *server;

/* counters for /stats, under `stats_lock` */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long accepted_bytes, would_block, clients_gone, producers_done, producers_running;

static void on_signal(int sig)
{
    (void)sig;
    fastserve_server_stop(server);
}

static long query_long(const fastserve_request *req, const char *key, long dflt)
{
    fastserve_str q = fastserve_request_query(req);
    char query[128] = {0};
    if (q.ptr != NULL)
        memcpy(query, q.ptr, q.len < sizeof(query) - 1 ? q.len : sizeof(query) - 1);
    char *at = strstr(query, key);
    return at != NULL ? strtol(at + strlen(key), NULL, 10) : dflt;
}

static int lines(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    long n = query_long(req, "n=", 3);
    fastserve_response_header(res, "Content-Type", 12, "text/plain", 10);
    fastserve_stream *s = fastserve_response_stream(res, -1, NULL, NULL);
    if (s == NULL)
        return 1;
    for (long i = 1; i <= n; i++) {
        char line[32];
        int len = snprintf(line, sizeof(line), "line %ld\n", i);
        if (fastserve_stream_write(s, line, (size_t)len) != FASTSERVE_RESULT_OK)
            break; /* a real producer would wait for WRITABLE */
    }
    char count[24];
    int len = snprintf(count, sizeof(count), "%ld", n);
    fastserve_stream_trailer(s, "X-Lines", 7, count, (size_t)len);
    fastserve_stream_end(s);
    return 0;
}

static int sized(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)userdata;
    fastserve_stream *s = fastserve_response_stream(res, 11, NULL, NULL);
    if (s == NULL)
        return 1;
    fastserve_stream_write(s, "hello ", 6);
    fastserve_stream_write(s, "world", 5);
    fastserve_stream_end(s);
    return 0;
}

/* A producer thread and its stream. Freed by whichever of the thread and the
 * final FASTSERVE_STREAM_CLOSED event lets go of it last. */
struct producer {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    fastserve_response *res;
    long bytes;
    int writable, gone, refs;
};

static void producer_release(struct producer *p)
{
    pthread_mutex_lock(&p->lock);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (last) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->wake);
        free(p);
    }
}

static void on_event(void *userdata, fastserve_stream_event ev)
{
    struct producer *p = userdata;
    pthread_mutex_lock(&p->lock);
    if (ev == FASTSERVE_STREAM_WRITABLE)
        p->writable = 1;
    else
        p->gone = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (ev == FASTSERVE_STREAM_CLOSED)
        producer_release(p);
}

static void *produce(void *arg)
{
    struct producer *p = arg;
    static char piece[64 * 1024];
    memset(piece, 'x', sizeof(piece));
    fastserve_response_header(p->res, "Content-Type", 12, "application/octet-stream", 24);
    fastserve_stream *s = fastserve_response_stream(p->res, -1, on_event, p);
    if (s == NULL) {
        producer_release(p); /* no events come */
        producer_release(p);
        return NULL;
    }
    long left = p->bytes;
    int failed = 0;
    while (left > 0) {
        size_t n = left < (long)sizeof(piece) ? (size_t)left : sizeof(piece);
        fastserve_result r = fastserve_stream_write(s, piece, n);
        if (r == FASTSERVE_RESULT_OK) {
            left -= (long)n;
            pthread_mutex_lock(&stats_lock);
            accepted_bytes += (long)n;
            pthread_mutex_unlock(&stats_lock);
        } else if (r == FASTSERVE_RESULT_WOULD_BLOCK) {
            pthread_mutex_lock(&stats_lock);
            would_block++;
            pthread_mutex_unlock(&stats_lock);
            pthread_mutex_lock(&p->lock);
            while (!p->writable && !p->gone)
                pthread_cond_wait(&p->wake, &p->lock);
            p->writable = 0;
            pthread_mutex_unlock(&p->lock);
        } else {
            failed = 1; /* FASTSERVE_RESULT_CLOSED: the client left */
            break;
        }
    }
    if (failed)
        fastserve_stream_abort(s);
    else
        fastserve_stream_end(s);
    pthread_mutex_lock(&stats_lock);
    if (failed)
        clients_gone++;
    producers_done++;
    producers_running--;
    pthread_mutex_unlock(&stats_lock);
    producer_release(p);
    return NULL;
}

static int firehose(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    struct producer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return 1;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->bytes = query_long(req, "mib=", 1) * 1024 * 1024;
    p->refs = 2; /* the thread, and the stream's events */
    p->res = fastserve_response_defer(res);
    pthread_mutex_lock(&stats_lock);
    producers_running++;
    pthread_mutex_unlock(&stats_lock);
    pthread_t t;
    if (pthread_create(&t, NULL, produce, p) != 0) {
        fastserve_response_send(p->res); /* a 200 with no body */
        free(p);
        return 0;
    }
    pthread_detach(t);
    return 0;
}

static int stats(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)userdata;
    char body[160];
    pthread_mutex_lock(&stats_lock);
    int n = snprintf(body, sizeof(body), "accepted=%ld would_block=%ld gone=%ld done=%ld running=%ld\n",
                     accepted_bytes, would_block, clients_gone, producers_done, producers_running);
    pthread_mutex_unlock(&stats_lock);
    fastserve_response_body(res, body, (size_t)n);
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8082;

    fastserve_config *cfg = fastserve_config_new();
    /* a small budget per stream, so that a slow reader holds its producer */
    fastserve_config_set_max_unsent_bytes(cfg, 256 * 1024);
    server = fastserve_server_new(cfg);
    fastserve_config_free(cfg);
    fastserve_server_route(server, "GET", 3, "/lines", 6, 0, lines, NULL);
    fastserve_server_route(server, "GET", 3, "/sized", 6, 0, sized, NULL);
    fastserve_server_route(server, "GET", 3, "/firehose", 9, 0, firehose, NULL);
    fastserve_server_route(server, "GET", 3, "/stats", 6, 0, stats, NULL);
    fastserve_result r = fastserve_server_listen(server, host, strlen(host), (uint16_t)port);
    if (r == FASTSERVE_RESULT_OK)
        r = fastserve_server_start(server);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "stream: %s\n", fastserve_last_error());
        fastserve_server_free(server);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("stream: listening on http://%s:%u/\n", host, fastserve_server_port(server));
    printf("try:    curl --raw 'http://%s:%u/lines?n=5'\n", host, fastserve_server_port(server));
    fflush(stdout);
    r = fastserve_server_wait(server);
    fastserve_server_free(server);
    /* producers still running were told CLOSED when their connections closed */
    printf("stream: stopped\n");
    return r == FASTSERVE_RESULT_OK ? 0 : 1;
}
