/* upgrade: a protocol switch hands the connection to the application.
 *   GET /echo with "Upgrade: lines"   101, then a line-echo protocol: every
 *                                     line the client sends comes back as
 *                                     "echo: <line>", until it closes
 *   CONNECT echo:0                    200, then the same protocol
 *   GET /stats                        the server's open connections
 * Each switched connection gets its own thread with a blocking socket.
 * Usage: upgrade [host] [port]   (default 127.0.0.1 8083) */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fastserve.h"

static fastserve_server *server;

static void on_signal(int sig)
{
    (void)sig;
    fastserve_server_stop(server);
}

struct session {
    int fd;
    size_t len; /* bytes in buf not yet echoed */
    char buf[4096];
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Echoes every complete line in the buffer; keeps the rest. */
static int echo_lines(struct session *s)
{
    char *start = s->buf, *nl;
    while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->buf))) != NULL) {
        if (write_all(s->fd, "echo: ", 6) || write_all(s->fd, start, (size_t)(nl - start + 1)))
            return -1;
        start = nl + 1;
    }
    s->len -= (size_t)(start - s->buf);
    memmove(s->buf, start, s->len);
    return s->len == sizeof(s->buf) ? -1 : 0; /* a line too long ends it */
}

static void *serve(void *arg)
{
    struct session *s = arg;
    int flags = fcntl(s->fd, F_GETFL);
    fcntl(s->fd, F_SETFL, flags & ~O_NONBLOCK);
    while (echo_lines(s) == 0) {
        ssize_t n = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
        if (n <= 0)
            break;
        s->len += (size_t)n;
    }
    close(s->fd);
    free(s);
    return NULL;
}

static void on_upgrade(void *userdata, int fd, const char *data, size_t len)
{
    (void)userdata;
    if (fd < 0)
        return; /* the client left before the switch */
    struct session *s = malloc(sizeof(*s));
    pthread_t t;
    if (s == NULL || len > sizeof(s->buf)) {
        free(s);
        close(fd);
        return;
    }
    s->fd = fd;
    s->len = len;
    memcpy(s->buf, data, len); /* the protocol's first bytes, read already */
    if (pthread_create(&t, NULL, serve, s) != 0) {
        close(fd);
        free(s);
        return;
    }
    pthread_detach(t);
}

static int echo(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    fastserve_str up = fastserve_request_header(req, "Upgrade", 7);
    if (up.ptr == NULL || up.len != 5 || strncasecmp(up.ptr, "lines", 5) != 0) {
        fastserve_response_status(res, 426);
        fastserve_response_header(res, "Upgrade", 7, "lines", 5);
        fastserve_response_body(res, "upgrade to lines\n", 17);
        return 0;
    }
    fastserve_response_header(res, "Upgrade", 7, "lines", 5);
    return fastserve_response_upgrade(res, 101, on_upgrade, NULL) != FASTSERVE_RESULT_OK;
}

static int tunnel(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    fastserve_str target = fastserve_request_target(req);
    if (target.len != 6 || memcmp(target.ptr, "echo:0", 6) != 0) {
        fastserve_response_status(res, 403);
        return 0;
    }
    return fastserve_response_upgrade(res, 200, on_upgrade, NULL) != FASTSERVE_RESULT_OK;
}

static int stats(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)req;
    (void)userdata;
    fastserve_stats st = {0};
    fastserve_server_stats(server, &st);
    char body[64];
    int n = snprintf(body, sizeof(body), "open=%llu\n", (unsigned long long)st.open_connections);
    fastserve_response_body(res, body, (size_t)n);
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8083;
    server = fastserve_server_new(NULL);
    fastserve_server_route(server, "GET", 3, "/echo", 5, 0, echo, NULL);
    fastserve_server_route(server, "GET", 3, "/stats", 6, 0, stats, NULL);
    fastserve_server_route(server, "CONNECT", 7, "echo:0", 6, 0, tunnel, NULL);
    fastserve_result r = fastserve_server_listen(server, host, strlen(host), (uint16_t)port);
    if (r == FASTSERVE_RESULT_OK)
        r = fastserve_server_start(server);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "upgrade: %s\n", fastserve_last_error());
        fastserve_server_free(server);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("upgrade: listening on http://%s:%u/\n", host, fastserve_server_port(server));
    printf("try:     printf 'GET /echo HTTP/1.1\\r\\nUpgrade: lines\\r\\n\\r\\nhi\\n' | nc %s %u\n", host,
           fastserve_server_port(server));
    fflush(stdout);
    r = fastserve_server_wait(server);
    fastserve_server_free(server);
    printf("upgrade: stopped\n");
    return r == FASTSERVE_RESULT_OK ? 0 : 1;
}
