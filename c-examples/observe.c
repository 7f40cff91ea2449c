/* observe: an access log, an error hook and metrics.
 *   GET  /hello          a static "hello"
 *   GET  /echo           a handler's "echo"
 *   POST /upload         the body's length (bodies over 1 KiB: 413)
 *   GET  /fail           a handler that fails: 500, and the error hook
 *   GET  /lines?n=N      N lines, streamed (chunked)
 *   GET  /defer?ms=N     answered from another thread N ms later
 *   GET  /metrics        the metrics in Prometheus text
 *   GET  /counts         fastserve_server_metrics, as name=value lines
 * Access records and errors go to LOGFILE, one tab-separated line each:
 *   access METHOD TARGET STATUS BYTES_IN BYTES_OUT COMPLETE PEER PORT REFERER UA DURATION_US TIME_US
 *   error  REASON STATUS PEER PORT TEXT
 * LOGFILE "off" sets no access log (the error hook still writes to stderr);
 * "count" one that only counts records and bytes (bench/access_log_bench.py).
 * The header, body and request timeouts are 500 ms.
 * Usage: observe [host] [port] [logfile] [max_connections] */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fastserve.h"

static fastserve_server *server;
static FILE *out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int outstanding; /* deferring threads still running */

static void on_signal(int sig)
{
    (void)sig;
    fastserve_server_stop(server);
}

static void on_access(const fastserve_access_record *r, size_t n, void *userdata)
{
    (void)userdata;
    for (size_t i = 0; i < n; i++)
        fprintf(out, "access\t%.*s\t%.*s\t%u\t%llu\t%llu\t%d\t%.*s\t%u\t%.*s\t%.*s\t%llu\t%llu\n",
                (int)r[i].method_len, r[i].method, (int)r[i].target_len, r[i].target, r[i].status,
                (unsigned long long)r[i].bytes_in, (unsigned long long)r[i].bytes_out, r[i].complete ? 1 : 0,
                (int)r[i].peer_len, r[i].peer, r[i].peer_port, (int)r[i].referer_len, r[i].referer,
                (int)r[i].user_agent_len, r[i].user_agent, (unsigned long long)r[i].duration_us,
                (unsigned long long)r[i].time_us);
    fflush(out);
}

static unsigned long long counted_records, counted_bytes;

static void on_count(const fastserve_access_record *r, size_t n, void *userdata)
{
    (void)userdata;
    unsigned long long bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += r[i].bytes_out + r[i].target_len;
    __atomic_fetch_add(&counted_records, n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&counted_bytes, bytes, __ATOMIC_RELAXED);
}

static void on_error(const fastserve_error_event *e, void *userdata)
{
    FILE *f = userdata;
    fprintf(f, "error\t%d\t%u\t%.*s\t%u\t%s\n", (int)e->reason, e->status, (int)e->peer_len, e->peer,
            e->peer_port, e->text);
    fflush(f);
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

static int echo(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)userdata;
    return fastserve_response_body(res, "echo", 4) != FASTSERVE_RESULT_OK;
}

static int upload(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    char text[32];
    int n = snprintf(text, sizeof text, "%zu", fastserve_request_body(req).len);
    return fastserve_response_body(res, text, (size_t)n) != FASTSERVE_RESULT_OK;
}

static int failing(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)res;
    (void)userdata;
    return 1;
}

static int lines(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    long n = query_long(req, "n=", 3);
    fastserve_stream *s = fastserve_response_stream(res, -1, NULL, NULL);
    if (s == NULL)
        return 1;
    for (long i = 1; i <= n; i++) {
        char line[32];
        int len = snprintf(line, sizeof line, "line %ld\n", i);
        fastserve_stream_write(s, line, (size_t)len);
    }
    fastserve_stream_end(s);
    return 0;
}

struct later {
    fastserve_response *res;
    long ms;
};

static void *answer_later(void *arg)
{
    struct later *l = arg;
    struct timespec ts = {l->ms / 1000, (l->ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    fastserve_response_body(l->res, "later", 5);
    fastserve_response_send(l->res); /* consumes the handle, answered or not */
    free(l);
    pthread_mutex_lock(&lock);
    outstanding--;
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int defer(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    struct later *l = malloc(sizeof *l);
    if (l == NULL)
        return 1;
    l->ms = query_long(req, "ms=", 10);
    l->res = fastserve_response_defer(res);
    pthread_t t;
    pthread_mutex_lock(&lock);
    outstanding++;
    pthread_mutex_unlock(&lock);
    if (l->res == NULL || pthread_create(&t, NULL, answer_later, l) != 0) {
        pthread_mutex_lock(&lock);
        outstanding--;
        pthread_mutex_unlock(&lock);
        if (l->res != NULL)
            fastserve_response_send(l->res);
        free(l);
        return 1;
    }
    pthread_detach(t);
    return 0;
}

static int counts(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)userdata;
    fastserve_metrics m;
    m.size = sizeof m;
    if (fastserve_server_metrics(server, &m) != FASTSERVE_RESULT_OK)
        return 1;
    char text[2048];
    size_t len = 0;
    len += (size_t)snprintf(text + len, sizeof text - len, "version=%u\nsize=%u\nrequests=%llu\n", m.version,
                            m.size, (unsigned long long)m.requests);
    unsigned long long timed = 0;
    for (int i = 0; i < 17; i++)
        timed += m.latency_buckets[i];
    len += (size_t)snprintf(text + len, sizeof text - len, "timed=%llu\n", timed);
    for (int i = 0; i < 6; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "class%d=%llu\n", i,
                                (unsigned long long)m.status_classes[i]);
    for (int i = 0; i < 20; i++)
        if (m.status_counts[i] != 0)
            len += (size_t)snprintf(text + len, sizeof text - len, "code%u=%llu\n", m.status_codes[i],
                                    (unsigned long long)m.status_counts[i]);
    for (int i = 0; i < 16; i++)
        if (m.errors[i] != 0)
            len += (size_t)snprintf(text + len, sizeof text - len, "error%d=%llu\n", i,
                                    (unsigned long long)m.errors[i]);
    return fastserve_response_body(res, text, len) != FASTSERVE_RESULT_OK;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8080;
    const char *logfile = argc > 3 ? argv[3] : "/dev/stderr";
    long max_conns = argc > 4 ? atol(argv[4]) : 0;

    fastserve_config *cfg = fastserve_config_new();
    fastserve_config_set_max_body(cfg, 1024);
    fastserve_config_set_header_timeout_ms(cfg, 500);
    fastserve_config_set_body_timeout_ms(cfg, 500);
    fastserve_config_set_request_timeout_ms(cfg, 500);
    if (max_conns > 0)
        fastserve_config_set_max_connections(cfg, (size_t)max_conns);
    server = fastserve_server_new(cfg);
    fastserve_config_free(cfg);

    int counting = strcmp(logfile, "count") == 0;
    int logging = strcmp(logfile, "off") != 0 && !counting;
    out = logging ? fopen(logfile, "a") : stderr;
    if (out == NULL) {
        perror(logfile);
        return 1;
    }
    if (logging || counting)
        fastserve_server_set_access_log(server, counting ? on_count : on_access, NULL);
    fastserve_server_set_error_hook(server, on_error, out);

    fastserve_server_route_static(server, "GET", 3, "/hello", 6, 0, 200, "text/plain", 10, "hello\n", 6);
    fastserve_server_route(server, "GET", 3, "/echo", 5, 0, echo, NULL);
    fastserve_server_route(server, "POST", 4, "/upload", 7, 0, upload, NULL);
    fastserve_server_route(server, "GET", 3, "/fail", 5, 0, failing, NULL);
    fastserve_server_route(server, "GET", 3, "/lines", 6, 0, lines, NULL);
    fastserve_server_route(server, "GET", 3, "/defer", 6, 0, defer, NULL);
    fastserve_server_route(server, "GET", 3, "/counts", 7, 0, counts, NULL);
    fastserve_server_route_metrics(server, "/metrics", 8);

    fastserve_result r = fastserve_server_listen(server, host, strlen(host), (uint16_t)port);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "listen on %s:%d: %s\n", host, port, fastserve_last_error());
        fastserve_server_free(server);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    r = fastserve_server_start(server);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "start: %s\n", fastserve_last_error());
        fastserve_server_free(server);
        return 1;
    }
    printf("observe: listening on http://%s:%u/, logging to %s\n", host, fastserve_server_port(server), logfile);
    printf("try:   curl http://%s:%u/hello; curl http://%s:%u/metrics\n", host, fastserve_server_port(server), host,
           fastserve_server_port(server));
    fflush(stdout);

    r = fastserve_server_wait(server);
    for (;;) { /* deferring threads hold handles: let them finish */
        pthread_mutex_lock(&lock);
        int left = outstanding;
        pthread_mutex_unlock(&lock);
        if (left == 0)
            break;
        usleep(10000);
    }
    fastserve_server_free(server);
    if (counting)
        fprintf(stderr, "observe: %llu records, %llu bytes\n", counted_records, counted_bytes);
    if (out != stderr)
        fclose(out);
    return r == FASTSERVE_RESULT_OK ? 0 : 1;
}
