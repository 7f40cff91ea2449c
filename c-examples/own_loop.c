/* own_loop: fastserve's sans-I/O connection API driven by a plain epoll loop
 * that this program owns. fastserve parses, frames and orders; the program
 * does every read, write, accept and close itself.
 *   GET  /plaintext     "Hello, World!"
 *   GET  /hello?name=x  "Hello, x!"
 *   POST /echo          the request body
 *   GET  /later         answered on the next loop turn (out of order with
 *                       what follows it on the same connection)
 * Usage: own_loop [host] [port]   (default 127.0.0.1 8082)
 * Ctrl-C or SIGTERM stops it gracefully. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fastserve.h"

#define MAX_CONNS 4096
#define MAX_LATER 4096

struct client {
    int fd;
    unsigned long serial;    /* tells a reused fd from the client it had */
    int readable, writable; /* edge-triggered readiness not used up yet */
    fastserve_conn *conn;
};

static struct client *clients[MAX_CONNS]; /* by fd */
static unsigned long next_serial;
static volatile sig_atomic_t stopping;
static int open_count;

/* Requests for /later: answered at the end of the loop turn. */
static struct {
    int fd;
    unsigned long serial;
    uint64_t id;
} later[MAX_LATER];
static int later_count;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static const char TEXT[] = "Content-Type: text/plain\r\n";

static void answer(struct client *c, const fastserve_batch_request *r, const char *data)
{
    const char *method = data + r->method_off;
    const char *path = data + r->target_off;
    size_t path_len = r->path_len;
#define IS(m, p) (r->method_len == strlen(m) && memcmp(method, m, r->method_len) == 0 && \
                  path_len == strlen(p) && memcmp(path, p, path_len) == 0)
    if (IS("GET", "/plaintext") || IS("HEAD", "/plaintext")) {
        fastserve_conn_respond(c->conn, r->id, 200, TEXT, sizeof(TEXT) - 1, "Hello, World!", 13);
    } else if (IS("GET", "/hello")) {
        const char *name = "World";
        size_t name_len = 5;
        if (r->flags & FASTSERVE_BATCH_QUERY) {
            const char *q = path + path_len + 1;
            size_t q_len = r->target_len - path_len - 1;
            if (q_len >= 5 && memcmp(q, "name=", 5) == 0) {
                name = q + 5;
                name_len = q_len - 5;
                for (size_t i = 0; i < name_len; i++)
                    if (name[i] == '&')
                        name_len = i;
            }
        }
        char body[256];
        int n = snprintf(body, sizeof(body), "Hello, %.*s!", (int)(name_len > 200 ? 200 : name_len), name);
        fastserve_conn_respond(c->conn, r->id, 200, TEXT, sizeof(TEXT) - 1, body, (size_t)n);
    } else if (IS("POST", "/echo")) {
        fastserve_conn_respond(c->conn, r->id, 200, TEXT, sizeof(TEXT) - 1, data + r->body_off, r->body_len);
    } else if (IS("GET", "/later") && later_count < MAX_LATER) {
        later[later_count].fd = c->fd;
        later[later_count].serial = c->serial;
        later[later_count].id = r->id;
        later_count++;
    } else {
        fastserve_conn_respond(c->conn, r->id, 404, TEXT, sizeof(TEXT) - 1, "Not Found\n", 10);
    }
#undef IS
}

static void close_client(int epfd, struct client *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    clients[c->fd] = NULL;
    fastserve_conn_free(c->conn);
    free(c);
    open_count--;
}

static void answer_batch(struct client *c, const fastserve_conn_batch *b)
{
    for (size_t i = 0; i < b->count; i++)
        answer(c, &b->requests[i], b->data);
}

/* Reads, answers and writes until the connection can make no progress.
 * Returns -1 once the connection is closed (and freed). */
static int drive(int epfd, struct client *c)
{
    char buf[16384];
    for (;;) {
        int progressed = 0;
        fastserve_conn_batch b;
        if (c->readable && fastserve_conn_wants_read(c->conn)) {
            ssize_t n = read(c->fd, buf, sizeof(buf));
            if (n > 0) {
                /* parses every complete request: the batch this read completed */
                fastserve_conn_feed(c->conn, buf, (size_t)n, &b);
                answer_batch(c, &b);
                progressed = 1;
            } else if (n == 0) {
                c->readable = 0;
                fastserve_conn_feed_eof(c->conn, &b);
                answer_batch(c, &b);
            } else if (errno == EAGAIN) {
                c->readable = 0;
            } else if (errno != EINTR) {
                close_client(epfd, c);
                return -1;
            }
        }
        fastserve_iovec iov[16];
        size_t n = c->writable ? fastserve_conn_output(c->conn, iov, 16) : 0;
        if (n > 0) {
            ssize_t w = writev(c->fd, (const struct iovec *)iov, (int)n);
            if (w >= 0) {
                fastserve_conn_written(c->conn, (size_t)w);
                /* room again: parse requests held back by the pipelining limit */
                fastserve_conn_feed(c->conn, NULL, 0, &b);
                answer_batch(c, &b);
                progressed = 1;
            } else if (errno == EAGAIN) {
                c->writable = 0; /* EPOLLOUT brings us back */
            } else if (errno != EINTR) {
                close_client(epfd, c);
                return -1;
            }
        }
        if (fastserve_conn_should_close(c->conn)) {
            close_client(epfd, c);
            return -1;
        }
        if (!progressed)
            return 0;
    }
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8082;

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(lfd, 1024) != 0) {
        perror("own_loop: bind/listen");
        return 1;
    }
    socklen_t alen = sizeof(addr);
    getsockname(lfd, (struct sockaddr *)&addr, &alen);

    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("own_loop: listening on http://%s:%u/\n", host, ntohs(addr.sin_port));
    printf("try:   curl 'http://%s:%u/hello?name=you'\n", host, ntohs(addr.sin_port));
    fflush(stdout);

    int listening = 1;
    unsigned long long served = 0;
    while (listening || open_count > 0) {
        if (stopping && listening) {
            /* graceful: no new connections, answer what is in flight */
            epoll_ctl(epfd, EPOLL_CTL_DEL, lfd, NULL);
            close(lfd);
            listening = 0;
            for (int fd = 0; fd < MAX_CONNS; fd++)
                if (clients[fd] != NULL) {
                    fastserve_conn_shutdown(clients[fd]->conn);
                    drive(epfd, clients[fd]);
                }
            continue;
        }
        struct epoll_event events[256];
        int n = epoll_wait(epfd, events, 256, later_count > 0 ? 0 : 100);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int cfd;
                while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    if (cfd >= MAX_CONNS) {
                        close(cfd);
                        continue;
                    }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct client *c = malloc(sizeof(*c));
                    c->fd = cfd;
                    c->serial = ++next_serial;
                    c->readable = 0;
                    c->writable = 1;
                    c->conn = fastserve_conn_new(NULL);
                    clients[cfd] = c;
                    open_count++;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.fd = cfd};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &cev);
                }
                continue;
            }
            struct client *c = clients[fd];
            if (c == NULL)
                continue;
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->readable = 1;
            if (events[i].events & (EPOLLOUT | EPOLLERR))
                c->writable = 1;
            drive(epfd, c);
        }
        /* the deferred answers, newest first: fastserve keeps them in order */
        int due = later_count;
        for (int i = due - 1; i >= 0; i--) {
            struct client *c = clients[later[i].fd];
            if (c == NULL || c->serial != later[i].serial)
                continue;
            char body[32];
            int len = snprintf(body, sizeof(body), "later %llu", (unsigned long long)later[i].id);
            fastserve_conn_respond(c->conn, later[i].id, 200, TEXT, sizeof(TEXT) - 1, body, (size_t)len);
            served++;
        }
        for (int i = 0; i < due; i++) {
            struct client *c = clients[later[i].fd];
            if (c != NULL && c->serial == later[i].serial)
                drive(epfd, c);
        }
        /* driving parsed more requests: their /later ones wait for the next turn */
        memmove(later, later + due, (size_t)(later_count - due) * sizeof(later[0]));
        later_count -= due;
    }
    close(epfd);
    printf("own_loop: stopped (%llu deferred answers)\n", served);
    return 0;
}
