/* The C API as a C program uses it, built with -std=c99 -pedantic and
 * -Werror by `make test-c`: a request's bytes go back into a response, and
 * string literals serve as bodies, with no casts; failures leave a detail
 * in fastserve_last_error; the version macros match fastserve_version().
 * Prints "echo: OK" and exits 0, or names the failed check and exits 1. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fastserve.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s (last error: %s)\n", __FILE__, __LINE__, #cond,             \
                    fastserve_last_error());                                                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int echo(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    fastserve_str body = fastserve_request_body(req);
    fastserve_str type = fastserve_request_header(req, "Content-Type", 12);
    (void)userdata;
    if (type.ptr != NULL && fastserve_response_header(res, "Content-Type", 12, type.ptr, type.len) != 0)
        return 1;
    return fastserve_response_body(res, body.ptr, body.len) != FASTSERVE_RESULT_OK;
}

/* Sends `request` to 127.0.0.1:port and reads the answer until the server closes. */
static size_t exchange(unsigned port, const char *request, char *out, size_t max)
{
    struct sockaddr_in a;
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(write(fd, request, strlen(request)) == (ssize_t)strlen(request));
    while (got < max && (n = read(fd, out + got, max - got)) > 0)
        got += (size_t)n;
    close(fd);
    return got;
}

static int ends_with(const char *s, size_t len, const char *tail)
{
    size_t t = strlen(tail);
    return len >= t && memcmp(s + len - t, tail, t) == 0;
}

static void server(void)
{
    static const char hello[] = "hello, literal\n";
    char out[4096];
    size_t n;
    fastserve_server *srv = fastserve_server_new(NULL);
    CHECK(srv != NULL);

    CHECK(fastserve_server_route(srv, "POST", 4, "echo", 4, 0, echo, NULL) == FASTSERVE_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(fastserve_last_error(), "must start with '/'") != NULL);
    CHECK(fastserve_server_route(srv, "POST", 4, "/echo", 5, 0, echo, NULL) == FASTSERVE_RESULT_OK);
    CHECK(fastserve_server_route_static(srv, "GET", 3, "/hello", 6, 0, 200, "text/plain", 10, hello,
                                        sizeof hello - 1) == FASTSERVE_RESULT_OK);
    CHECK(fastserve_server_listen_tcp(srv, "127.0.0.1", 9, 0, 0x80) == FASTSERVE_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(fastserve_last_error(), "unknown listen flags") != NULL);
    CHECK(fastserve_server_listen(srv, "127.0.0.1", 9, 0) == FASTSERVE_RESULT_OK);
    CHECK(fastserve_server_start(srv) == FASTSERVE_RESULT_OK);
    CHECK(fastserve_server_start(srv) == FASTSERVE_RESULT_ALREADY_STARTED);
    CHECK(strstr(fastserve_last_error(), "started") != NULL);

    n = exchange(fastserve_server_port(srv),
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/x-echo\r\n"
                 "Content-Length: 11\r\nConnection: close\r\n\r\nhello there",
                 out, sizeof out);
    CHECK(n > 12 && memcmp(out, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(out, "Content-Type: text/x-echo\r\n") != NULL);
    CHECK(ends_with(out, n, "\r\n\r\nhello there"));

    n = exchange(fastserve_server_port(srv), "GET /hello HTTP/1.0\r\n\r\n", out, sizeof out);
    CHECK(ends_with(out, n, hello));

    CHECK(fastserve_server_stop(srv) == FASTSERVE_RESULT_OK);
    CHECK(fastserve_server_wait(srv) == FASTSERVE_RESULT_OK);
    fastserve_server_free(srv);
}

/* The sans-I/O connection: a request's body goes back out as it is. */
static void conn(void)
{
    static const char in[] = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping";
    const fastserve_batch_request *r;
    fastserve_conn_batch b;
    fastserve_iovec iov[8];
    size_t k, total = 0;
    fastserve_conn *c = fastserve_conn_new(NULL);
    CHECK(c != NULL);
    CHECK(fastserve_conn_feed(c, in, sizeof in - 1, &b) == FASTSERVE_RESULT_OK);
    CHECK(b.count == 1);
    r = &b.requests[0];
    CHECK(fastserve_conn_respond(c, r->id, 200, "", 0, b.data + r->body_off, r->body_len) == FASTSERVE_RESULT_OK);
    CHECK(fastserve_conn_respond(c, r->id, 200, "", 0, "", 0) == FASTSERVE_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(fastserve_last_error(), "not waiting") != NULL);
    k = fastserve_conn_output(c, iov, 8);
    CHECK(k > 0);
    CHECK(ends_with(iov[k - 1].base, iov[k - 1].len, "ping"));
    while (k-- > 0)
        total += iov[k].len;
    CHECK(fastserve_conn_written(c, total) == FASTSERVE_RESULT_OK);
    fastserve_conn_free(c);
}

/* The parser: modes by name, results as char pointers into the input. */
static void parse(void)
{
    static const char head[] = "GET /p?q=1 HTTP/1.1\r\nHost: example\r\n\r\n";
    fastserve_request_line line;
    fastserve_header headers[4];
    size_t count = 4, used = 0;
    fastserve_chunked_decoder *dec;
    CHECK(fastserve_parse_request(head, sizeof head - 1, FASTSERVE_PARSE_STRICT, &line, headers, &count,
                                  &used) == FASTSERVE_RESULT_OK);
    CHECK(used == sizeof head - 1 && count == 1);
    CHECK(line.path_len == 6 && memcmp(line.path, "/p?q=1", 6) == 0);
    CHECK(headers[0].value_len == 7 && memcmp(headers[0].value, "example", 7) == 0);
    count = 4;
    CHECK(fastserve_parse_request(head, sizeof head - 1, 7, &line, headers, &count, &used) ==
          FASTSERVE_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(fastserve_last_error(), "mode 7") != NULL);
    CHECK(fastserve_chunked_decoder_new(2, false) == NULL);
    CHECK(strstr(fastserve_last_error(), "mode 2") != NULL);
    dec = fastserve_chunked_decoder_new(FASTSERVE_PARSE_PICO, false);
    CHECK(dec != NULL);
    fastserve_chunked_decoder_free(dec);
}

int main(void)
{
    char version[64];
    snprintf(version, sizeof version, "%d.%d.%d", FASTSERVE_VERSION_MAJOR, FASTSERVE_VERSION_MINOR,
             FASTSERVE_VERSION_PATCH);
    CHECK(strcmp(fastserve_version(), version) == 0);
    CHECK(strcmp(fastserve_last_error(), "") == 0);
    server();
    conn();
    parse();
    puts("echo: OK");
    return 0;
}
