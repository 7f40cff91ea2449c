/* upload: request bodies streamed to the handler, in constant memory.
 *   PUT or POST /upload   any size (up to 16 GiB): the body is read in pieces as it
 *                  arrives and answered with its length and CRC-32
 *   POST /hold     the same, but reading pauses after the first piece until
 *                  GET /resume: the client is held back meanwhile
 *   GET  /resume   resumes the held upload
 *   GET  /stats    bytes taken by the uploads so far
 *   POST /small    buffered as usual, with a route limit of 16 bytes
 * Usage: upload [host] [port]   (default 127.0.0.1 8084) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastserve.h"

static fastserve_server *server;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long taken; /* body bytes seen, for /stats */
static fastserve_response *held; /* the paused upload, if any */

static void on_signal(int sig)
{
    (void)sig;
    fastserve_server_stop(server);
}

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

struct upload {
    fastserve_response *res; /* deferred: answered when the body ends */
    unsigned long long len;
    uint32_t crc;
    int pause_once;
};

static int on_body(void *userdata, const char *data, size_t len, fastserve_body_event ev)
{
    struct upload *u = userdata;
    if (ev == FASTSERVE_BODY_DATA) {
        uint32_t c = ~u->crc;
        for (size_t i = 0; i < len; i++)
            c = crc_table[(c ^ (uint8_t)data[i]) & 0xff] ^ (c >> 8);
        u->crc = ~c;
        u->len += len;
        pthread_mutex_lock(&lock);
        taken += len;
        int pause = u->pause_once;
        if (pause) {
            u->pause_once = 0;
            held = u->res;
        }
        pthread_mutex_unlock(&lock);
        return pause;
    }
    pthread_mutex_lock(&lock);
    if (held == u->res)
        held = NULL;
    pthread_mutex_unlock(&lock);
    if (ev == FASTSERVE_BODY_END) {
        char body[64];
        int n = snprintf(body, sizeof(body), "%llu %08x\n", u->len, u->crc);
        fastserve_response_body(u->res, body, (size_t)n);
    }
    /* on ABORTED the library has answered already: this only frees the handle */
    fastserve_response_send(u->res);
    free(u);
    return 0;
}

static int start_upload(fastserve_response *res, int pause_once)
{
    struct upload *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return 1;
    u->pause_once = pause_once;
    /* read first (inline), then defer: the body starts when the handler returns */
    if (fastserve_response_read_body(res, on_body, u) != FASTSERVE_RESULT_OK) {
        free(u);
        return 1;
    }
    u->res = fastserve_response_defer(res);
    return 0;
}

static int upload(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)userdata;
    return start_upload(res, 0);
}

static int hold(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)userdata;
    return start_upload(res, 1);
}

static int resume(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)userdata;
    pthread_mutex_lock(&lock);
    int ok = held != NULL && fastserve_response_resume_body(held) == FASTSERVE_RESULT_OK;
    pthread_mutex_unlock(&lock);
    fastserve_response_body(res, ok ? "resumed\n" : "nothing held\n", ok ? 8 : 13);
    return 0;
}

static int stats(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)userdata;
    char body[64];
    pthread_mutex_lock(&lock);
    int n = snprintf(body, sizeof(body), "taken=%llu\n", taken);
    pthread_mutex_unlock(&lock);
    fastserve_response_body(res, body, (size_t)n);
    return 0;
}

static int small(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    fastserve_str body = fastserve_request_body(req);
    fastserve_response_body(res, body.ptr, body.len);
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8084;
    crc_init();
    server = fastserve_server_new(NULL);
    fastserve_server_route(server, NULL, 0, "/upload", 7, 0, upload, NULL);
    fastserve_server_route(server, "POST", 4, "/hold", 5, 0, hold, NULL);
    fastserve_server_route(server, "GET", 3, "/resume", 7, 0, resume, NULL);
    fastserve_server_route(server, "GET", 3, "/stats", 6, 0, stats, NULL);
    fastserve_server_route(server, "POST", 4, "/small", 6, 0, small, NULL);
    /* the server's max_body stays 1 MiB; these routes have their own */
    fastserve_result r = fastserve_server_route_body(server, NULL, 0, "/upload", 7, (size_t)16 << 30,
                                                     FASTSERVE_BODY_STREAM);
    if (r == FASTSERVE_RESULT_OK)
        r = fastserve_server_route_body(server, "POST", 4, "/hold", 5, (size_t)1 << 30, FASTSERVE_BODY_STREAM);
    if (r == FASTSERVE_RESULT_OK)
        r = fastserve_server_route_body(server, "POST", 4, "/small", 6, 16, 0);
    if (r == FASTSERVE_RESULT_OK)
        r = fastserve_server_listen(server, host, strlen(host), (uint16_t)port);
    if (r == FASTSERVE_RESULT_OK)
        r = fastserve_server_start(server);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "upload: %s\n", fastserve_last_error());
        fastserve_server_free(server);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("upload: listening on http://%s:%u/\n", host, fastserve_server_port(server));
    printf("try:    curl -T bigfile http://%s:%u/upload\n", host, fastserve_server_port(server));
    fflush(stdout);
    r = fastserve_server_wait(server);
    fastserve_server_free(server);
    printf("upload: stopped\n");
    return r == FASTSERVE_RESULT_OK ? 0 : 1;
}
