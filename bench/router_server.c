/* The server of bench/router_bench.py: one C handler answering
 * "Hello, World!" behind either one route or a router of 50.
 *   router_server PORT one-exact|one-param|one-prefix|fifty
 * The handler reads the "id" parameter (as a real one would) on every route. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastserve.h"

static fastserve_server *server;

static void on_signal(int sig)
{
    (void)sig;
    fastserve_server_stop(server);
}

static int hello(const fastserve_request *req, fastserve_response *res, void *userdata)
{
    (void)userdata;
    fastserve_str id = fastserve_request_param(req, "id", 2);
    if (id.ptr != NULL && id.len == 0)
        return 1;
    return fastserve_response_body(res, "Hello, World!", 13) != FASTSERVE_RESULT_OK;
}

static const char *const EXACT[] = {
    "/", "/hello", "/health", "/about", "/login", "/logout", "/signup", "/search",
    "/api/v1/status", "/api/v1/version", "/api/v1/users", "/api/v1/orgs", "/api/v1/items",
    "/api/v2/users", "/api/v2/items", "/robots.txt", "/favicon.ico", "/sitemap.xml",
    "/metrics", "/admin",
};
static const char *const PATTERNS[] = {
    "/users/{id}", "/users/{id}/posts", "/users/{id}/followers", "/users/{id}/following",
    "/orgs/{org}/repos/{repo}", "/orgs/{org}/members/{user}", "/orgs/{org}",
    "/api/v1/users/{id}", "/api/v1/items/{id}", "/api/v1/orgs/{org}/teams/{team}",
    "/api/v2/users/{id}", "/api/v2/items/{id}/history", "/{user}/{repo}/issues/{n}",
    "/{user}/{repo}/pulls/{n}", "/{user}/{repo}/tree/{path*}", "/{user}/{repo}",
    "/files/{path*}", "/search/{kind}/{q}", "/tags/{tag}", "/users/{id}/posts/{post}",
};
static const char *const PREFIXES[] = {
    "/static/", "/images/", "/js/", "/css/", "/fonts/", "/downloads/", "/docs/",
    "/media/", "/vendor/", "/assets/",
};

static void add(const char *m, const char *path, uint32_t flags)
{
    if (fastserve_server_route(server, m, m ? strlen(m) : 0, path, strlen(path), flags, hello, NULL) !=
        FASTSERVE_RESULT_OK) {
        fprintf(stderr, "route %s: %s\n", path, fastserve_last_error());
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: router_server PORT one-exact|one-param|one-prefix|fifty\n");
        return 2;
    }
    server = fastserve_server_new(NULL);
    const char *mode = argv[2];
    if (strcmp(mode, "one-exact") == 0) {
        add("GET", "/api/v1/status", 0);
    } else if (strcmp(mode, "one-param") == 0) {
        add("GET", "/users/{id}/posts/{post}", 0);
    } else if (strcmp(mode, "one-prefix") == 0) {
        add("GET", "/assets/", FASTSERVE_ROUTE_PREFIX);
    } else if (strcmp(mode, "fifty") == 0) {
        for (size_t i = 0; i < sizeof(EXACT) / sizeof(*EXACT); i++)
            add(i % 4 == 3 ? "POST" : "GET", EXACT[i], 0);
        for (size_t i = 0; i < sizeof(PATTERNS) / sizeof(*PATTERNS); i++)
            add(i % 5 == 4 ? NULL : "GET", PATTERNS[i], 0);
        for (size_t i = 0; i < sizeof(PREFIXES) / sizeof(*PREFIXES); i++)
            add("GET", PREFIXES[i], FASTSERVE_ROUTE_PREFIX);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    int port = atoi(argv[1]);
    if (fastserve_server_listen(server, "127.0.0.1", 9, (uint16_t)port) != FASTSERVE_RESULT_OK ||
        fastserve_server_start(server) != FASTSERVE_RESULT_OK) {
        fprintf(stderr, "%s\n", fastserve_last_error());
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("router_server: %s on %u\n", mode, fastserve_server_port(server));
    fflush(stdout);
    fastserve_result r = fastserve_server_wait(server);
    fastserve_server_free(server);
    return r == FASTSERVE_RESULT_OK ? 0 : 1;
}
