/* The floor: what a hello-world server costs on loopback when it does no
 * HTTP at all. One epoll thread; per connection it learns the request length
 * once (up to the first "\r\n\r\n"), then answers every read() with
 * bytes/req_len copies of a fixed response (the remainder carried over) in
 * one write(). A server's CPU per request over the floor's, in one run, is
 * the part of its cost that is its own.
 * Usage: floor PORT [spin]   ("spin": epoll_wait never sleeps) */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESP[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: C\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
    "\r\n"
    "Hello, World!";
#define RLEN (sizeof(RESP) - 1)
#define MAXN 64
static char outbuf[RLEN * MAXN];

struct conn { long req_len; long carry; };
static struct conn *conns;
#define MAXFD 65536

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    int spin = argc > 2 && strcmp(argv[2], "spin") == 0;
    for (int i = 0; i < MAXN; i++) memcpy(outbuf + i * RLEN, RESP, RLEN);
    conns = calloc(MAXFD, sizeof(struct conn));
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) { perror("bind/listen"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[512];
    static char buf[65536];
    fprintf(stderr, "floor listening on 127.0.0.1:%d, response %zu bytes%s\n", port, RLEN, spin ? ", busy-poll" : "");
    for (;;) {
        int n = epoll_wait(ep, evs, 512, spin ? 0 : -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXFD) { close(c); continue; }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conns[c].req_len = 0; conns[c].carry = 0;
                    struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                close(fd);
                continue;
            }
            struct conn *cn = &conns[fd];
            if (!cn->req_len) {
                char *p = memmem(buf, r, "\r\n\r\n", 4);
                if (!p) { close(fd); continue; } /* loadgen sends whole requests */
                cn->req_len = (p - buf) + 4;
            }
            long tot = cn->carry + r;
            long k = tot / cn->req_len;
            cn->carry = tot % cn->req_len;
            while (k > 0) {
                long m = k > MAXN ? MAXN : k;
                size_t len = m * RLEN, off = 0;
                while (off < len) { /* spin on EAGAIN: simple, and rare at these sizes */
                    ssize_t w = write(fd, outbuf + off, len - off);
                    if (w < 0) { if (errno == EAGAIN || errno == EINTR) continue; goto drop; }
                    off += w;
                }
                k -= m;
            }
            continue;
        drop:
            close(fd);
        }
    }
}
