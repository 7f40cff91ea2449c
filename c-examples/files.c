/* files: file bodies sent with sendfile(2), and a static directory route.
 *   GET /static/...                the files under ROOT (index.html for a
 *                                  directory), with ETag, Range, 304
 *   GET /file?name=F[&off=N&len=M] ROOT/F (a plain name) from a handler with
 *                                  fastserve_response_file; a range the file
 *                                  does not have answers 400 with the reason
 *   GET /later?name=F              the same, sent from another thread after
 *                                  the handler deferred it
 * Usage: files [host] [port] [root]   (default 127.0.0.1 8082 .) */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastserve.h"

static fastserve_server *server;
static int root_fd = -1;

static void on_signal(int sig)
{
    (void)sig;
    fastserve_server_stop(server);
}

/* The value of `key=` in the query, copied into out; 0 when absent. */
static int query_arg(const fastserve_request *req, const char *key, char *out, size_t cap)
{
    fastserve_str q = fastserve_request_query(req);
    size_t klen = strlen(key);
    size_t i = 0;
    while (q.ptr != NULL && i < q.len) {
        size_t end = i;
        while (end < q.len && q.ptr[end] != '&')
            end++;
        if (end - i > klen && memcmp(q.ptr + i, key, klen) == 0 && q.ptr[i + klen] == '=') {
            size_t n = end - i - klen - 1;
            if (n >= cap)
                return 0;
            memcpy(out, q.ptr + i + klen + 1, n);
            out[n] = '\0';
            return 1;
        }
        i = end + 1;
    }
    return 0;
}

/* Opens ROOT/name for a plain name (no '/', not hidden); -1 otherwise. */
static int open_named(const fastserve_request *req)
{
    char name[256];
    if (!query_arg(req, "name", name, sizeof(name)) || name[0] == '.' || strchr(name, '/') != NULL)
        return -1;
    return openat(root_fd, name, O_RDONLY | O_CLOEXEC);
}

static int text(fastserve_response *res, uint16_t status, const char *msg)
{
    fastserve_response_status(res, status);
    fastserve_response_header(res, "Content-Type", 12, "text/plain", 10);
    return fastserve_response_body(res, msg, strlen(msg)) != FASTSERVE_RESULT_OK;
}

static int file(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    int fd = open_named(req);
    if (fd < 0)
        return text(res, 404, "no such file\n");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return 1;
    }
    char arg[32];
    uint64_t off = query_arg(req, "off", arg, sizeof(arg)) ? strtoull(arg, NULL, 10) : 0;
    uint64_t len = query_arg(req, "len", arg, sizeof(arg)) ? strtoull(arg, NULL, 10)
                   : (uint64_t)st.st_size > off                  ? (uint64_t)st.st_size - off
                                                                 : 0;
    fastserve_result r = fastserve_response_file(res, fd, off, len); /* fd is the engine's now */
    if (r == FASTSERVE_RESULT_INVALID_ARGUMENT) {
        char msg[300];
        snprintf(msg, sizeof(msg), "refused: %s\n", fastserve_last_error());
        return text(res, 400, msg);
    }
    fastserve_response_header(res, "Content-Type", 12, "application/octet-stream", 24);
    return r != FASTSERVE_RESULT_OK;
}

struct later {
    fastserve_response *res;
    int fd;
};

static void *send_later(void *arg)
{
    struct later *l = arg;
    struct stat st;
    if (fstat(l->fd, &st) == 0 &&
        fastserve_response_file(l->res, l->fd, 0, (uint64_t)st.st_size) == FASTSERVE_RESULT_OK) {
        fastserve_response_send(l->res);
    } else {
        fastserve_response_status(l->res, 500);
        fastserve_response_send(l->res); /* consumes the handle either way */
    }
    free(l);
    return NULL;
}

static int later(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    int fd = open_named(req);
    if (fd < 0)
        return text(res, 404, "no such file\n");
    struct later *l = malloc(sizeof(*l));
    if (l == NULL) {
        close(fd);
        return 1;
    }
    l->fd = fd;
    l->res = fastserve_response_defer(res);
    pthread_t t;
    if (pthread_create(&t, NULL, send_later, l) != 0) {
        send_later(l);
        return 0;
    }
    pthread_detach(t);
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8082;
    const char *root = argc > 3 ? argv[3] : ".";
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        perror(root);
        return 1;
    }

    server = fastserve_server_new(NULL);
    fastserve_result r = fastserve_server_route_dir(server, "/static", 7, root, strlen(root), FASTSERVE_DIR_INDEX);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "route_dir: %s\n", fastserve_last_error());
        fastserve_server_free(server);
        return 1;
    }
    fastserve_server_route(server, "GET", 3, "/file", 5, 0, file, NULL);
    fastserve_server_route(server, "GET", 3, "/later", 6, 0, later, NULL);
    r = fastserve_server_listen(server, host, strlen(host), (uint16_t)port);
    if (r == FASTSERVE_RESULT_OK)
        r = fastserve_server_start(server);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "listen: %s\n", fastserve_last_error());
        fastserve_server_free(server);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("files: listening on http://%s:%u/ serving %s\n", host, fastserve_server_port(server), root);
    printf("try:   curl -i 'http://%s:%u/static/'\n", host, fastserve_server_port(server));
    fflush(stdout);

    r = fastserve_server_wait(server);
    fastserve_server_free(server);
    close(root_fd);
    printf("files: stopped\n");
    return r == FASTSERVE_RESULT_OK ? 0 : 1;
}
