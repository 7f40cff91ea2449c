/*
 * picohttpparser-compatible API, provided by libfastserve.
 *
 * Declares the same functions and structures as picohttpparser's header, with
 * the same prototypes and layouts, so that programs written for picohttpparser
 * compile unchanged against this header and link with -lfastserve.
 *
 * Return codes: the number of bytes consumed on success, -1 for a parse error,
 * -2 when the input is incomplete.
 */
#ifndef picohttpparser_h
#define picohttpparser_h

#include <stdint.h>
#include <sys/types.h>

#ifdef _MSC_VER
#define ssize_t intptr_t
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One header field. Both strings point into the parsed buffer and are not
 * NUL-terminated. For a continuation line (obs-fold) name is NULL and
 * name_len is 0. Values are trimmed of surrounding SP and HTAB. */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* Parses a request head in buf[0..len).
 * *num_headers holds the capacity of headers on entry and the number of
 * fields found on return. last_len is the length already seen by a previous
 * call that returned -2 (0 on the first call); it lets an incomplete head be
 * rejected without parsing it again. */
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

/* Parses a response head; arguments as phr_parse_request. */
int phr_parse_response(const char *_buf, size_t len, int *minor_version, int *status, const char **msg, size_t *msg_len,
                       struct phr_header *headers, size_t *num_headers, size_t last_len);

/* Parses header fields through the empty line; arguments as phr_parse_request. */
int phr_parse_headers(const char *buf, size_t len, struct phr_header *headers, size_t *num_headers, size_t last_len);

/* State of the chunked decoder. Zero it before first use. */
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk; /* bytes left in the current chunk */
    char consume_trailer;       /* non-zero: also consume the trailer section */
    char _hex_count;
    char _state;
    uint64_t _total_read;
    uint64_t _total_overhead;
};

/* Decodes a chunked body in place. On entry *bufsz is the number of bytes in
 * buf; on return it is the number of decoded bytes now at the start of buf.
 * Returns -2 while the body is incomplete (call again with the next bytes),
 * -1 on a framing error, or, once the body is complete, the number of bytes
 * that followed it, which have been moved to buf + *bufsz. */
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

/* Returns non-zero while the decoder is in the middle of chunk data. */
int phr_decode_chunked_is_in_data(struct phr_chunked_decoder *decoder);

#ifdef __cplusplus
}
#endif

#endif
