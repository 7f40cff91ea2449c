/* An ordinary picohttpparser program: it includes picohttpparser.h and knows
 * nothing of fastserve. `make test` links it against libfastserve.so. */
#include <stdio.h>
#include <string.h>

#include "picohttpparser.h"

static void print_headers(const struct phr_header *h, size_t n)
{
    for (size_t i = 0; i != n; ++i) {
        if (h[i].name == NULL)
            printf("  (continuation): %.*s\n", (int)h[i].value_len, h[i].value);
        else
            printf("  %.*s: %.*s\n", (int)h[i].name_len, h[i].name, (int)h[i].value_len, h[i].value);
    }
}

static int request(void)
{
    const char *req = "GET /hello?name=pico HTTP/1.1\r\n"
                      "Host: example.com\r\n"
                      "User-Agent: pico_compat/1.0\r\n"
                      "Accept: */*  \r\n"
                      "\r\n";
    const char *method, *path;
    size_t method_len, path_len, num_headers = 8;
    int minor_version;
    struct phr_header headers[8];

    /* first a partial read, as a server sees it */
    int r = phr_parse_request(req, 20, &method, &method_len, &path, &path_len, &minor_version, headers, &num_headers, 0);
    printf("partial: %d\n", r);
    num_headers = 8;
    r = phr_parse_request(req, strlen(req), &method, &method_len, &path, &path_len, &minor_version, headers,
                          &num_headers, 20);
    if (r < 0)
        return 1;
    printf("request: %d bytes, method=%.*s path=%.*s HTTP/1.%d, %zu headers\n", r, (int)method_len, method,
           (int)path_len, path, minor_version, num_headers);
    print_headers(headers, num_headers);

    num_headers = 8;
    r = phr_parse_request("GET / HTTP/1.1\r\nHost\r\n\r\n", 24, &method, &method_len, &path, &path_len,
                          &minor_version, headers, &num_headers, 0);
    printf("malformed: %d\n", r);
    return 0;
}

static int response(void)
{
    const char *res = "HTTP/1.1 200 OK\r\n"
                      "Content-Type: text/plain\r\n"
                      "X-Folded: first\r\n"
                      "  second\r\n"
                      "\r\n";
    int minor_version, status;
    const char *msg;
    size_t msg_len, num_headers = 8;
    struct phr_header headers[8];
    int r = phr_parse_response(res, strlen(res), &minor_version, &status, &msg, &msg_len, headers, &num_headers, 0);
    if (r < 0)
        return 1;
    printf("response: %d bytes, HTTP/1.%d %d %.*s, %zu headers\n", r, minor_version, status, (int)msg_len, msg,
           num_headers);
    print_headers(headers, num_headers);
    return 0;
}

static int chunked(void)
{
    char body[] = "5\r\nHello\r\n"
                  "8;ext=1\r\n, World!\r\n"
                  "0\r\n"
                  "Trailer: yes\r\n"
                  "\r\n"
                  "NEXT";
    struct phr_chunked_decoder decoder;
    memset(&decoder, 0, sizeof(decoder));
    decoder.consume_trailer = 1;

    /* feed it in two pieces, as reads would arrive */
    size_t first = 12, second = strlen(body) - first;
    size_t n = first;
    ssize_t r = phr_decode_chunked(&decoder, body, &n);
    printf("chunked part 1: ret=%zd decoded=%zu in_data=%d\n", r, n, phr_decode_chunked_is_in_data(&decoder));
    size_t have = n;
    memmove(body + have, body + first, second);
    n = second;
    r = phr_decode_chunked(&decoder, body + have, &n);
    if (r < 0)
        return 1;
    have += n;
    printf("chunked part 2: ret=%zd body=\"%.*s\" rest=\"%.*s\"\n", r, (int)have, body, (int)r, body + have);
    return 0;
}

int main(void)
{
    if (request() || response() || chunked()) {
        printf("FAILED\n");
        return 1;
    }
    printf("sizeof(struct phr_header)=%zu sizeof(struct phr_chunked_decoder)=%zu\n", sizeof(struct phr_header),
           sizeof(struct phr_chunked_decoder));
    return 0;
}
