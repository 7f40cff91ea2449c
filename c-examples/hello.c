/* hello: the fastserve C API in one page.
 *   GET  /plaintext     static response, served without calling out
 *   GET  /hello?name=x  a handler: "Hello, x!" ("Hello, World!" without a name)
 *   POST /echo          a handler that answers with the request body
 *   GET  /whoami        the client's address and port, as "192.0.2.7 51234"
 *   GET  /users/{id}    a path parameter: "user <id>", percent-decoded
 *   GET  /files/{path*} a tail parameter: every parameter, "name=value"
 *   any  /any           a route for every method: answers with the method
 * Usage: hello [host] [port] [workers]   (default 127.0.0.1 8080 1)
 * Ctrl-C or SIGTERM stops it gracefully. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastserve.h"

static fastserve_server *server;

static void on_signal(int sig)
{
    (void)sig;
    fastserve_server_stop(server); /* safe in a signal handler */
}

static int hello(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    fastserve_str q = fastserve_request_query(req);
    const char *name = "World";
    size_t name_len = 5;
    /* find name=... in the query string */
    for (size_t i = 0; q.ptr != NULL && i + 5 <= q.len; i++) {
        if ((i == 0 || q.ptr[i - 1] == '&') && memcmp(q.ptr + i, "name=", 5) == 0) {
            name = q.ptr + i + 5;
            name_len = 0;
            while (i + 5 + name_len < q.len && name[name_len] != '&')
                name_len++;
            break;
        }
    }
    /* the name is as long as the request line allows: the body is written
     * in place, into a buffer of its size that the response holds */
    size_t len = 7 + name_len + 1;
    fastserve_response_header(res, "Content-Type", 12, "text/plain", 10);
    char *body = fastserve_response_body_buffer(res, len);
    if (body == NULL)
        return 1;
    memcpy(body, "Hello, ", 7);
    memcpy(body + 7, name, name_len);
    body[len - 1] = '!';
    return 0;
}

static int echo(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    fastserve_str body = fastserve_request_body(req);
    fastserve_str ct = fastserve_request_header(req, "content-type", 12);
    if (ct.ptr != NULL)
        fastserve_response_header(res, "Content-Type", 12, ct.ptr, ct.len);
    return fastserve_response_body(res, body.ptr, body.len) == FASTSERVE_RESULT_OK ? 0 : 1;
}

static int whoami(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "unknown";
    unsigned port = 0;
    if (fastserve_request_peer(req, (struct sockaddr *)&ss, &len) != FASTSERVE_RESULT_OK)
        return 1;
    if (len > 0 && ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (len > 0 && ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    }
    char body[INET6_ADDRSTRLEN + 8];
    int n = snprintf(body, sizeof body, "%s %u", host, port);
    fastserve_response_header(res, "Content-Type", 12, "text/plain", 10);
    return fastserve_response_body(res, body, (size_t)n) != FASTSERVE_RESULT_OK;
}

static int user(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    fastserve_str id = fastserve_request_param(req, "id", 2);
    char *body = malloc(5 + id.len);
    if (body == NULL)
        return 1;
    memcpy(body, "user ", 5);
    memcpy(body + 5, id.ptr, id.len);
    fastserve_result r = fastserve_response_body(res, body, 5 + id.len); /* copies */
    free(body);
    return r == FASTSERVE_RESULT_OK ? 0 : 1;
}

static int params(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    char body[1024];
    size_t len = 0;
    fastserve_str name, value;
    for (size_t i = 0; i < fastserve_request_param_count(req); i++) {
        if (fastserve_request_param_at(req, i, &name, &value) != FASTSERVE_RESULT_OK ||
            name.len + value.len + 2 > sizeof(body) - len)
            return 1;
        memcpy(body + len, name.ptr, name.len);
        len += name.len;
        body[len++] = '=';
        memcpy(body + len, value.ptr, value.len);
        len += value.len;
        body[len++] = '\n';
    }
    return fastserve_response_body(res, body, len) == FASTSERVE_RESULT_OK ? 0 : 1;
}

static int method(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    fastserve_str m = fastserve_request_method(req);
    return fastserve_response_body(res, m.ptr, m.len) == FASTSERVE_RESULT_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8080;
    int workers = argc > 3 ? atoi(argv[3]) : 1;

    fastserve_config *cfg = fastserve_config_new();
    fastserve_config_set_workers(cfg, (size_t)workers);
    server = fastserve_server_new(cfg);
    fastserve_config_free(cfg);

    static const char text[] = "Hello, World!";
    fastserve_server_route_static(server, "GET", 3, "/plaintext", 10, 0, 200, "text/plain", 10,
                                  text, sizeof(text) - 1);
    fastserve_server_route(server, "GET", 3, "/hello", 6, 0, hello, NULL);
    fastserve_server_route(server, "POST", 4, "/echo", 5, 0, echo, NULL);
    fastserve_server_route(server, "GET", 3, "/whoami", 7, 0, whoami, NULL);
    fastserve_server_route(server, "GET", 3, "/users/{id}", 11, 0, user, NULL);
    fastserve_server_route(server, "GET", 3, "/files/{path*}", 14, 0, params, NULL);
    fastserve_server_route(server, NULL, 0, "/any", 4, 0, method, NULL); /* NULL: any method */

    fastserve_result r = fastserve_server_listen(server, host, strlen(host), (uint16_t)port);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "listen on %s:%d: %s\n", host, port, fastserve_result_str(r));
        fastserve_server_free(server);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* start the workers before saying so: a client that reads the line below
     * finds the server serving */
    r = fastserve_server_start(server);
    if (r != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "start: %s\n", fastserve_result_str(r));
        fastserve_server_free(server);
        return 1;
    }
    printf("hello: listening on http://%s:%u/ with %d worker(s)\n", host, fastserve_server_port(server), workers);
    printf("try:   curl 'http://%s:%u/hello?name=you'\n", host, fastserve_server_port(server));
    fflush(stdout);

    r = fastserve_server_wait(server);
    fastserve_stats st;
    fastserve_server_stats(server, &st);
    printf("hello: stopped after %llu requests\n", (unsigned long long)st.requests);
    fastserve_server_free(server);
    return r == FASTSERVE_RESULT_OK ? 0 : 1;
}
