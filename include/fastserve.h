/*
 * fastserve: an HTTP/1.1 engine with a C ABI.
 *
 * Generated from the Rust sources by cbindgen; do not edit. Regenerate with `make`.
 *
 * Conventions:
 * - Every fallible call returns a fastserve_result; 0 (FASTSERVE_RESULT_OK) is
 *   success, and fastserve_result_str() describes any code.
 * - Objects are opaque and come in _new/_free pairs; _free(NULL) does nothing.
 * - Strings and bytes cross as pointer + length and are never NUL-terminated
 *   unless a comment says so. Borrowed pointers live as long as each comment says.
 * - No call lets a Rust panic unwind into C: it returns FASTSERVE_RESULT_PANIC.
 */

#ifndef FASTSERVE_H
#define FASTSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/**
 * The request was HEAD: the response's body is not sent.
 */
#define FASTSERVE_BATCH_HEAD 1

/**
 * HTTP/1.1 (otherwise HTTP/1.0).
 */
#define FASTSERVE_BATCH_HTTP11 2

/**
 * The target has a query (after `?`).
 */
#define FASTSERVE_BATCH_QUERY 4

/**
 * Content type codes, in the high 16 bits of a reply's status word. NONE
 * adds no Content-Type (put one in the reply's header lines).
 */
#define FASTSERVE_CT_NONE 0

/**
 * `text/plain; charset=utf-8`
 */
#define FASTSERVE_CT_TEXT 1

/**
 * `application/json`
 */
#define FASTSERVE_CT_JSON 2

/**
 * `text/html; charset=utf-8`
 */
#define FASTSERVE_CT_HTML 3

/**
 * `application/octet-stream`
 */
#define FASTSERVE_CT_OCTET 4

/**
 * Route flag: match every path that starts with the given path.
 */
#define FASTSERVE_ROUTE_PREFIX 1

#define DATE_LEN 29

/**
 * Result code of every fallible fastserve call. 0 is success.
 */
typedef enum fastserve_result {
  /**
   * Success.
   */
  FASTSERVE_RESULT_OK = 0,
  /**
   * The input ends before the message does; call again with more bytes.
   */
  FASTSERVE_RESULT_PARTIAL = 1,
  /**
   * A required pointer argument was NULL.
   */
  FASTSERVE_RESULT_NULL_ARGUMENT = 2,
  /**
   * An argument is out of range.
   */
  FASTSERVE_RESULT_INVALID_ARGUMENT = 3,
  /**
   * fastserve hit an internal bug; the call had no effect. Please report it.
   */
  FASTSERVE_RESULT_PANIC = 4,
  /**
   * Parse error: bad method.
   */
  FASTSERVE_RESULT_BAD_METHOD = 10,
  /**
   * Parse error: bad request target.
   */
  FASTSERVE_RESULT_BAD_TARGET = 11,
  /**
   * Parse error: malformed HTTP version.
   */
  FASTSERVE_RESULT_BAD_VERSION = 12,
  /**
   * Parse error: a well-formed version other than HTTP/1.x.
   */
  FASTSERVE_RESULT_UNSUPPORTED_VERSION = 13,
  /**
   * Parse error: bad line ending (bare CR, or bare LF in strict mode).
   */
  FASTSERVE_RESULT_BAD_NEWLINE = 14,
  /**
   * Parse error: bad header name (or obs-fold in strict mode).
   */
  FASTSERVE_RESULT_BAD_HEADER_NAME = 15,
  /**
   * Parse error: control byte in a header value.
   */
  FASTSERVE_RESULT_BAD_HEADER_VALUE = 16,
  /**
   * Parse error: more headers than the array holds.
   */
  FASTSERVE_RESULT_TOO_MANY_HEADERS = 17,
  /**
   * Parse error: bad status code.
   */
  FASTSERVE_RESULT_BAD_STATUS = 18,
  /**
   * Chunked body: bad chunk-size line.
   */
  FASTSERVE_RESULT_BAD_CHUNK_SIZE = 19,
  /**
   * Chunked body: chunk data not followed by CRLF.
   */
  FASTSERVE_RESULT_BAD_CHUNK_DATA = 20,
  /**
   * Chunked body: framing overhead out of proportion to the data.
   */
  FASTSERVE_RESULT_CHUNK_OVERHEAD = 21,
  /**
   * A system call failed (bind, listen, thread creation, ...).
   */
  FASTSERVE_RESULT_IO = 30,
  /**
   * The server is running; routes and listeners are fixed.
   */
  FASTSERVE_RESULT_ALREADY_STARTED = 31,
  /**
   * The server is not listening or not started yet.
   */
  FASTSERVE_RESULT_NOT_STARTED = 32,
  /**
   * The response was already sent or deferred.
   */
  FASTSERVE_RESULT_RESPONSE_CLOSED = 33,
} fastserve_result;

/**
 * A batch handed to a batch handler. Valid only during that call.
 */
typedef struct fastserve_batch fastserve_batch;

/**
 * State of a chunked-body decoder. Opaque; one per body. Not thread-safe:
 * use one decoder from one thread at a time.
 */
typedef struct fastserve_chunked_decoder fastserve_chunked_decoder;

/**
 * Engine settings; copied by `fastserve_server_new`. Not thread-safe.
 */
typedef struct fastserve_config fastserve_config;

/**
 * A sans-I/O HTTP/1.1 server connection: it parses, frames, orders and
 * renders; the program does every read, write and close. Not thread-safe:
 * use each one from one thread at a time (different connections may be used
 * on different threads). Create with `fastserve_conn_new`, free with
 * `fastserve_conn_free`. The loop, for each readable or writable socket:
 *
 * ```c
 * while (fastserve_conn_wants_read(c) && (n = read(fd, buf, sizeof buf)) > 0) {
 *     fastserve_conn_batch b;
 *     fastserve_conn_feed(c, buf, n, &b);        // n == 0: fastserve_conn_feed_eof
 *     for (size_t i = 0; i < b.count; i++)       // now or later, any order:
 *         fastserve_conn_respond(c, b.requests[i].id, 200, hdrs, hlen, body, blen);
 * }
 * fastserve_iovec iov[16];
 * size_t k = fastserve_conn_output(c, iov, 16);
 * ssize_t w = writev(fd, (struct iovec *)iov, k);
 * if (w > 0) fastserve_conn_written(c, w);        // then feed 0 bytes: held-back requests
 * if (fastserve_conn_should_close(c)) close(fd);
 * ```
 *
 * `c-examples/own_loop.c` is a complete epoll server built this way.
 */
typedef struct fastserve_conn fastserve_conn;

/**
 * A request, valid only during the handler call that received it. Every
 * string it returns points into the connection's buffer and is valid for
 * that call only: copy what a deferred response needs.
 */
typedef struct fastserve_request fastserve_request;

/**
 * A response under construction. Inline (the one a handler receives) it is
 * valid during the handler call. After `fastserve_response_defer` the new
 * handle may be used from any thread, one thread at a time, until
 * `fastserve_response_send`, which consumes it.
 */
typedef struct fastserve_response fastserve_response;

/**
 * A server. `fastserve_server_stop` and `fastserve_server_stats` may be
 * called from any thread at any time (`stop` also from a signal handler);
 * every other call from one thread at a time.
 */
typedef struct fastserve_server fastserve_server;

/**
 * One request of a batch: 64 bytes, fixed layout. Every `*_off` is a byte
 * offset into the batch's data area (the `data` argument of the batch
 * handler, or `fastserve_conn_batch.data`); strings are not NUL-terminated.
 *
 * - method: `data + method_off`, `method_len` bytes;
 * - target (path, then `?` and the query when `flags & FASTSERVE_BATCH_QUERY`):
 *   `data + target_off`, `target_len` bytes; the path is its first
 *   `path_len` bytes, the query starts at `target_off + path_len + 1`;
 * - header fields: `header_count` `fastserve_batch_header`s at
 *   `data + headers_off` (4-byte aligned);
 * - body (Content-Length or decoded chunked): `data + body_off`, `body_len` bytes.
 */
typedef struct fastserve_batch_request {
  /**
   * The `tag` of the batch route that matched (0 for `fastserve_conn_*`).
   */
  uint32_t tag;
  /**
   * `FASTSERVE_BATCH_*` bits.
   */
  uint32_t flags;
  /**
   * The request's id: what `fastserve_server_complete` or
   * `fastserve_conn_respond` take to answer it.
   */
  uint64_t id;
  uint32_t method_off;
  uint32_t method_len;
  uint32_t target_off;
  uint32_t target_len;
  uint32_t path_len;
  uint32_t header_count;
  uint32_t headers_off;
  uint32_t body_off;
  uint32_t body_len;
  /**
   * A number identifying the connection among the worker's open ones
   * (0 from `fastserve_conn_*`).
   */
  uint32_t conn;
  uint32_t reserved[2];
} fastserve_batch_request;

/**
 * A batch handler: gets every request for the server's batch routes that one
 * worker read in one pass of its event loop, `count >= 1` of them, in the
 * array `reqs`, with their bytes in `data` (`data_len` bytes), which
 * directly follows the array: `data == (const uint8_t *)(reqs + count)`, so
 * one copy of `count * 64 + data_len` bytes from `reqs` takes both. `reqs`,
 * `data` and `batch` are valid until it returns: copy what is needed later.
 *
 * It answers with `fastserve_batch_respond`, in request order; a reply with
 * status 0 defers that request, to be answered later through
 * `fastserve_server_complete` with its `id` (from any thread, once that
 * `fastserve_batch_respond` call has returned). Requests it leaves without a
 * reply get a 500. Runs on a worker thread; with several workers, calls may
 * run concurrently.
 */
typedef void (*fastserve_batch_fn)(struct fastserve_batch *batch,
                                   const struct fastserve_batch_request *reqs,
                                   size_t count,
                                   const uint8_t *data,
                                   size_t data_len,
                                   void *userdata);

/**
 * The requests parsed by one `fastserve_conn_feed`: `count` records in
 * `requests` (see `fastserve_batch_request`) and their bytes in `data`,
 * which directly follows the records (`data == (const uint8_t *)(requests
 * + count)`).
 * Valid until the next `fastserve_conn_feed`, `fastserve_conn_feed_eof` or
 * `fastserve_conn_free` on the same connection, whatever was answered.
 */
typedef struct fastserve_conn_batch {
  const struct fastserve_batch_request *requests;
  size_t count;
  const uint8_t *data;
  size_t data_len;
} fastserve_conn_batch;

/**
 * One piece of output; the same layout as `struct iovec` from
 * `<sys/uio.h>`, so an array of them can be passed to `writev`.
 */
typedef struct fastserve_iovec {
  const void *base;
  size_t len;
} fastserve_iovec;

/**
 * A parsed request line. Pointers borrow the input buffer.
 */
typedef struct fastserve_request_line {
  const uint8_t *method;
  size_t method_len;
  const uint8_t *path;
  size_t path_len;
  /**
   * 0 for HTTP/1.0, 1 for HTTP/1.1.
   */
  int32_t minor_version;
} fastserve_request_line;

/**
 * One header field. `name`/`value` point into the caller's input buffer and
 * are valid as long as it is. Not NUL-terminated. A continuation line (pico
 * mode only) has `name == NULL`. Values have leading and trailing SP/HTAB
 * removed. The layout equals picohttpparser's `struct phr_header`.
 */
typedef struct fastserve_header {
  const uint8_t *name;
  size_t name_len;
  const uint8_t *value;
  size_t value_len;
} fastserve_header;

/**
 * A parsed status line. `reason` borrows the input buffer.
 */
typedef struct fastserve_status_line {
  int32_t minor_version;
  int32_t status;
  const uint8_t *reason;
  size_t reason_len;
} fastserve_status_line;

/**
 * A request handler. Runs on a worker thread; it must not block for long.
 * It answers through `res` (status, headers, body; sent when it returns) or
 * calls `fastserve_response_defer`. A non-zero return answers 500 unless a
 * response was already sent or deferred.
 */
typedef int (*fastserve_handler)(const struct fastserve_request *req,
                                 struct fastserve_response *res,
                                 void *userdata);

/**
 * Server counters, summed over workers.
 */
typedef struct fastserve_stats {
  /**
   * Requests parsed and dispatched (error answers included).
   */
  uint64_t requests;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t open_connections;
  uint64_t accepted_connections;
} fastserve_stats;

/**
 * A byte string: `ptr` and `len`, not NUL-terminated. `ptr` is NULL when
 * the value is absent.
 */
typedef struct fastserve_str {
  const char *ptr;
  size_t len;
} fastserve_str;

/**
 * Called once, on any thread, when a borrowed body is no longer needed.
 */
typedef void (*fastserve_release_fn)(void *userdata);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * A static, NUL-terminated description of a result code. Never NULL; unknown
 * codes give "unknown result code". The string lives for the whole program.
 */
const char *fastserve_result_str(int32_t code);

/**
 * Adds a batch route: requests for it are collected and handed to the batch
 * handler (`fastserve_server_set_batch_handler`) together, tagged with
 * `tag`. `method` NULL matches any method (a GET route also answers HEAD).
 * `flags`: `FASTSERVE_ROUTE_PREFIX` or 0.
 *
 * # Safety
 * `srv` valid; pointers readable for their lengths.
 */
enum fastserve_result fastserve_server_route_batch(struct fastserve_server *srv,
                                                   const char *method,
                                                   size_t method_len,
                                                   const char *path,
                                                   size_t path_len,
                                                   uint32_t flags,
                                                   uint32_t tag);

/**
 * Sets the handler of all batch routes. Without one they answer 500.
 * `userdata` is passed to every call.
 *
 * # Safety
 * `srv` valid; `handler` callable from worker threads with `userdata`.
 */
enum fastserve_result fastserve_server_set_batch_handler(struct fastserve_server *srv,
                                                         fastserve_batch_fn handler,
                                                         void *userdata);

/**
 * Answers the next `count` requests of the batch, in order. Replies are
 * columns, so that they are cheap to build in any language:
 * - `status[i]`: status code (200..999) in the low 16 bits, a
 *   `FASTSERVE_CT_*` content type code in the high 16 bits; a status of 0
 *   defers the request (answer it later with `fastserve_server_complete`);
 * - `header_lens[i]`: byte length of reply `i`'s extra header lines; pass
 *   NULL when no reply has any;
 * - `body_lens[i]`: byte length of reply `i`'s body;
 * - `data`: reply 0's header lines, reply 0's body, reply 1's header lines, ...
 *
 * When both `header_lens` and `body_lens` are NULL, `data` holds the
 * bodies separated by single NUL bytes (`count - 1` of them): text replies
 * joined in one step, with no lengths to compute.
 *
 * Header lines are complete `Name: value\r\n` lines; `Date`,
 * `Content-Length`, `Server` and `Connection` are added by the engine (and
 * refused here). A reply with a bad status, content type or header line is
 * answered 500. Everything is copied: the arrays may be freed at once. May
 * be called several times per batch; each call continues where the last
 * stopped. Returns `FASTSERVE_RESULT_INVALID_ARGUMENT` (and answers
 * nothing) when the lengths do not add up or there are more replies than
 * requests.
 *
 * # Safety
 * `batch` is the batch of a running batch handler call; `status`,
 * `body_lens` and (unless NULL) `header_lens` readable for `count` words,
 * `data` for `data_len` bytes.
 */
enum fastserve_result fastserve_batch_respond(struct fastserve_batch *batch,
                                              const uint32_t *status,
                                              const uint32_t *header_lens,
                                              const uint32_t *body_lens,
                                              size_t count,
                                              const uint8_t *data,
                                              size_t data_len);

/**
 * Answers the next `count` requests of the batch with the same status word
 * (status | `FASTSERVE_CT_*` << 16) and the bodies in `data`, separated by
 * single NUL bytes (`count - 1` of them). The common case of handlers that
 * return text, in one call with nothing to measure. Copied; returns
 * `FASTSERVE_RESULT_INVALID_ARGUMENT` (and answers nothing) when the count
 * of separators is wrong or there are more replies than requests.
 *
 * # Safety
 * `batch` is the batch of a running batch handler call; `data` readable
 * for `data_len` bytes.
 */
enum fastserve_result fastserve_batch_respond_text(struct fastserve_batch *batch,
                                                   uint32_t status,
                                                   size_t count,
                                                   const uint8_t *data,
                                                   size_t data_len);

/**
 * Answers deferred batch requests (those given status 0) by id, from any
 * thread, at any time while the server runs. `ids` holds `count` ids; the
 * other arguments are the columns of `fastserve_batch_respond` (status 0 is
 * not allowed here: it answers 500). Everything is copied. Each reply goes
 * to its worker, which sends it in request order. `*unknown` (if not NULL)
 * receives the number of ids that were not pending (answered already, or
 * never issued); their replies are dropped.
 *
 * # Safety
 * `srv` valid; arrays readable for their counts.
 */
enum fastserve_result fastserve_server_complete(const struct fastserve_server *srv,
                                                const uint64_t *ids,
                                                const uint32_t *status,
                                                const uint32_t *header_lens,
                                                const uint32_t *body_lens,
                                                size_t count,
                                                const uint8_t *data,
                                                size_t data_len,
                                                size_t *unknown);

/**
 * Creates a connection with the limits and `Server` name of `cfg` (NULL:
 * the defaults). `cfg` is copied. Returns NULL only if out of memory.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
struct fastserve_conn *fastserve_conn_new(const struct fastserve_config *cfg);

/**
 * Frees a connection and every buffer it holds. NULL is a no-op.
 *
 * # Safety
 * `c` is NULL or from `fastserve_conn_new`, and not used again.
 */
void fastserve_conn_free(struct fastserve_conn *c);

/**
 * Feeds `len` bytes received from the peer (copied), parses every complete
 * request buffered, and writes the batch of new requests to `*out` (if not
 * NULL; see `fastserve_conn_batch` for how long it stays valid). `len == 0`
 * only parses: call it so after writing output, to pick up pipelined
 * requests that were held back by the pipelining limit.
 *
 * Malformed input queues an error response (400, 413, 414, 431, 501, 505)
 * and the connection then closes: keep writing the output until
 * `fastserve_conn_should_close`. Bytes fed while `fastserve_conn_wants_read`
 * is false are kept and parsed later.
 *
 * # Safety
 * `c` valid; `data` readable for `len` bytes; `out` NULL or writable.
 */
enum fastserve_result fastserve_conn_feed(struct fastserve_conn *c,
                                          const uint8_t *data,
                                          size_t len,
                                          struct fastserve_conn_batch *out);

/**
 * The peer closed its sending side. Requests already complete are still
 * answered; `*out` as in `fastserve_conn_feed`.
 *
 * # Safety
 * `c` valid; `out` NULL or writable.
 */
enum fastserve_result fastserve_conn_feed_eof(struct fastserve_conn *c,
                                              struct fastserve_conn_batch *out);

/**
 * Answers request `id` (from its `fastserve_batch_request`), at any time and
 * in any order: responses still leave in request order. `headers` holds
 * zero or more complete `Name: value\r\n` lines (include `Content-Type`
 * there); `Date`, `Content-Length`, `Server` and `Connection` are added by
 * the engine and refused in `headers`. Status 200..999. Everything is
 * copied. A refused status or header line answers 500 instead and returns
 * `FASTSERVE_RESULT_INVALID_ARGUMENT`; an id that is not waiting for an answer
 * returns `FASTSERVE_RESULT_INVALID_ARGUMENT` and changes nothing.
 *
 * # Safety
 * `c` valid; `headers` and `body` readable for their lengths.
 */
enum fastserve_result fastserve_conn_respond(struct fastserve_conn *c,
                                             uint64_t id,
                                             uint16_t status,
                                             const char *headers,
                                             size_t headers_len,
                                             const uint8_t *body,
                                             size_t body_len);

/**
 * Answers `count` requests in one call: `ids[i]` gets reply `i`, given as
 * the columns of `fastserve_batch_respond` (a `FASTSERVE_CT_*` code in the
 * status word's high 16 bits). A reply with status 0 (and no bytes) leaves
 * its request unanswered, for later. Ids that are not waiting are skipped;
 * `*unknown` (if not NULL) receives how many. `FASTSERVE_RESULT_INVALID_ARGUMENT` (nothing answered)
 * when the lengths do not add up.
 *
 * # Safety
 * `c` valid; `ids`, `status`, `body_lens` and (unless NULL) `header_lens`
 * readable for `count` elements, `data` for `data_len` bytes; `unknown`
 * NULL or writable.
 */
enum fastserve_result fastserve_conn_respond_batch(struct fastserve_conn *c,
                                                   const uint64_t *ids,
                                                   const uint32_t *status,
                                                   const uint32_t *header_lens,
                                                   const uint32_t *body_lens,
                                                   size_t count,
                                                   const uint8_t *data,
                                                   size_t data_len,
                                                   size_t *unknown);

/**
 * Fills up to `max` iovecs with the output ready to send, in order, and
 * returns how many it filled (0: nothing to send). The memory they point to
 * is valid until the next call other than `fastserve_conn_output`,
 * `fastserve_conn_unsent`, `fastserve_conn_wants_read` or
 * `fastserve_conn_should_close` on this connection. After writing, report
 * the bytes written with `fastserve_conn_written`.
 *
 * # Safety
 * `c` valid; `iov` writable for `max` entries.
 */
size_t fastserve_conn_output(const struct fastserve_conn *c,
                             struct fastserve_iovec *iov,
                             size_t max);

/**
 * Bytes of output waiting to be sent.
 *
 * # Safety
 * `c` NULL or valid.
 */
size_t fastserve_conn_unsent(const struct fastserve_conn *c);

/**
 * Records that the first `n` bytes of the output were sent. `n` larger than
 * `fastserve_conn_unsent` is refused (`FASTSERVE_RESULT_INVALID_ARGUMENT`).
 *
 * # Safety
 * `c` valid.
 */
enum fastserve_result fastserve_conn_written(struct fastserve_conn *c, size_t n);

/**
 * Whether to read from the peer now. False under backpressure (too many
 * unanswered or unsent responses: write first, then feed 0 bytes) and once
 * no more requests will be read.
 *
 * # Safety
 * `c` NULL or valid.
 */
bool fastserve_conn_wants_read(const struct fastserve_conn *c);

/**
 * True once the connection should be closed: no more requests will be
 * served (`Connection: close`, HTTP/1.0, an error, or EOF) and every
 * response owed has been written. NULL gives true.
 *
 * # Safety
 * `c` NULL or valid.
 */
bool fastserve_conn_should_close(const struct fastserve_conn *c);

/**
 * Requests handed out and not answered yet.
 *
 * # Safety
 * `c` NULL or valid.
 */
size_t fastserve_conn_pending(const struct fastserve_conn *c);

/**
 * Stops reading new requests (graceful shutdown): requests already handed
 * out are still answered, then `fastserve_conn_should_close` turns true.
 *
 * # Safety
 * `c` valid.
 */
enum fastserve_result fastserve_conn_shutdown(struct fastserve_conn *c);

/**
 * Parses an HTTP/1.x request head (request line and header fields, through
 * the empty line) from `buf[0..len]`.
 *
 * `mode` is a `fastserve_parse_mode`. `headers` is an array of `*num_headers`
 * entries; on return `*num_headers` holds the number filled. On
 * `FASTSERVE_RESULT_OK`, `*consumed` is the length of the head; the body, if
 * any, starts at `buf + *consumed`. `FASTSERVE_RESULT_PARTIAL` means the head
 * is incomplete: call again with more bytes (from the start of the head).
 * Any other code is a parse error.
 *
 * Every pointer written to `line` and `headers` points into `buf`.
 * Thread-safe; no allocation.
 *
 * # Safety
 * `buf` readable for `len` bytes; `line`, `num_headers`, `consumed` writable;
 * `headers` writable for `*num_headers` entries.
 */
enum fastserve_result fastserve_parse_request(const uint8_t *buf,
                                              size_t len,
                                              uint32_t mode,
                                              struct fastserve_request_line *line,
                                              struct fastserve_header *headers,
                                              size_t *num_headers,
                                              size_t *consumed);

/**
 * Parses an HTTP/1.x response head. Arguments and results as
 * `fastserve_parse_request`.
 *
 * # Safety
 * As `fastserve_parse_request`.
 */
enum fastserve_result fastserve_parse_response(const uint8_t *buf,
                                               size_t len,
                                               uint32_t mode,
                                               struct fastserve_status_line *line,
                                               struct fastserve_header *headers,
                                               size_t *num_headers,
                                               size_t *consumed);

/**
 * Parses header fields through the terminating empty line (for trailers, or
 * heads whose first line was parsed elsewhere). Arguments as
 * `fastserve_parse_request`.
 *
 * # Safety
 * As `fastserve_parse_request`.
 */
enum fastserve_result fastserve_parse_headers(const uint8_t *buf,
                                              size_t len,
                                              uint32_t mode,
                                              struct fastserve_header *headers,
                                              size_t *num_headers,
                                              size_t *consumed);

/**
 * Creates a chunked decoder. `mode` is a `fastserve_parse_mode`; with
 * `consume_trailer` non-zero the trailer section is read and dropped too.
 * Returns NULL for an unknown mode. Free it with `fastserve_chunked_decoder_free`.
 */
struct fastserve_chunked_decoder *fastserve_chunked_decoder_new(uint32_t mode,
                                                                bool consume_trailer);

/**
 * Frees a decoder. NULL is a no-op.
 *
 * # Safety
 * `dec` is NULL or came from `fastserve_chunked_decoder_new` and is not used again.
 */
void fastserve_chunked_decoder_free(struct fastserve_chunked_decoder *dec);

/**
 * Decodes the next piece of a chunked body in place.
 *
 * On entry `*len` is the number of bytes at `buf`. On return the first `*len`
 * bytes of `buf` are body data decoded by this call. `FASTSERVE_RESULT_PARTIAL`
 * means the body continues: feed the next bytes in a new call.
 * `FASTSERVE_RESULT_OK` means the body ended; `*rest` bytes that followed it
 * were moved to `buf + *len`. Other codes are framing errors.
 *
 * # Safety
 * `dec` valid; `buf` writable for `*len` bytes; `len` and `rest` writable.
 */
enum fastserve_result fastserve_chunked_decode(struct fastserve_chunked_decoder *dec,
                                               uint8_t *buf,
                                               size_t *len,
                                               size_t *rest);

/**
 * Creates a configuration with the defaults (1 worker, 10000 connections per
 * worker, 8 KiB heads, 100 headers, 1 MiB bodies). Free with `fastserve_config_free`.
 */
struct fastserve_config *fastserve_config_new(void);

/**
 * Frees a configuration. NULL is a no-op.
 *
 * # Safety
 * `cfg` is NULL or from `fastserve_config_new`, and not used again.
 */
void fastserve_config_free(struct fastserve_config *cfg);

/**
 * Worker threads (default 1). Each runs its own event loop and listener.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_workers(struct fastserve_config *cfg, size_t value);

/**
 * Most open connections per worker (default 10000); new ones past it are closed at once.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_max_connections(struct fastserve_config *cfg,
                                                           size_t value);

/**
 * Largest request head in bytes (default 8192); larger gets 431.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_max_header_bytes(struct fastserve_config *cfg,
                                                            size_t value);

/**
 * Longest request line in bytes (default 8192); longer gets 414.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_max_request_line(struct fastserve_config *cfg,
                                                            size_t value);

/**
 * Most header fields per request (default 100); more gets 431.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_max_headers(struct fastserve_config *cfg, size_t value);

/**
 * Largest request body in bytes (default 1 MiB); larger gets 413.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_max_body(struct fastserve_config *cfg, size_t value);

/**
 * Most requests in flight per connection (default 128); at the limit the
 * connection is not read until responses drain.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_max_pipelined(struct fastserve_config *cfg,
                                                         size_t value);

/**
 * Most unsent response bytes per connection (default 1 MiB); past it the
 * connection is not read until the client reads.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_max_unsent_bytes(struct fastserve_config *cfg,
                                                            size_t value);

/**
 * `SO_RCVBUF` of each connection, in bytes (default: the kernel's
 * autotuning, which grows to megabytes). Bounds what a client can queue
 * that the server is not reading. The kernel doubles the value and caps it
 * at `net.core.rmem_max`. 0 and values over `INT_MAX` are refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_socket_recv_buffer(struct fastserve_config *cfg,
                                                              size_t value);

/**
 * `SO_SNDBUF` of each connection, in bytes (default: the kernel's
 * autotuning, which grows to megabytes). Bounds the responses the kernel
 * takes for a client that does not read them. The kernel doubles the value
 * and caps it at `net.core.wmem_max`. 0 and values over `INT_MAX` are
 * refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_socket_send_buffer(struct fastserve_config *cfg,
                                                              size_t value);

/**
 * Buffer block size in bytes (default 16384, rounded up to 4 KiB).
 * 0 and values over 64 MiB are refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_buffer_size(struct fastserve_config *cfg, size_t value);

/**
 * How long `fastserve_server_stop` lets in-flight requests finish, in ms (default 30000).
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_shutdown_grace_ms(struct fastserve_config *cfg,
                                                             uint64_t value);

/**
 * A request head must be complete this many ms after its first byte (default 10000); else 408 and close.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_header_timeout_ms(struct fastserve_config *cfg,
                                                             uint64_t value);

/**
 * A request body may pause this many ms between reads (default 30000); else 408 and close.
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_body_timeout_ms(struct fastserve_config *cfg,
                                                           uint64_t value);

/**
 * An idle keep-alive connection is closed after this many ms (default 60000).
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_keepalive_timeout_ms(struct fastserve_config *cfg,
                                                                uint64_t value);

/**
 * Output that makes no progress for this many ms drops the connection (default 30000).
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_write_timeout_ms(struct fastserve_config *cfg,
                                                            uint64_t value);

/**
 * A deferred response not sent within this many ms is answered 503 (default 60000).
 * 0 is refused.
 *
 * # Safety
 * `cfg` is NULL or a valid configuration.
 */
enum fastserve_result fastserve_config_set_request_timeout_ms(struct fastserve_config *cfg,
                                                              uint64_t value);

/**
 * Sets the `Server` header value; `len == 0` removes the header.
 *
 * # Safety
 * `cfg` valid; `name` readable for `len` bytes.
 */
enum fastserve_result fastserve_config_set_server_name(struct fastserve_config *cfg,
                                                       const char *name,
                                                       size_t len);

/**
 * Creates a server from `cfg` (copied; NULL means the defaults). Free it
 * with `fastserve_server_free`.
 *
 * # Safety
 * `cfg` is NULL or valid.
 */
struct fastserve_server *fastserve_server_new(const struct fastserve_config *cfg);

/**
 * Stops the server if it runs, waits for its workers, and frees it. NULL is a no-op.
 *
 * # Safety
 * `srv` is NULL or from `fastserve_server_new`, and not used again.
 */
void fastserve_server_free(struct fastserve_server *srv);

/**
 * Adds a static route: the response (status, Content-Type, body) is rendered
 * now, and served with the current Date without calling out. `method` NULL
 * matches any method (a GET route also answers HEAD). `flags` may hold
 * `FASTSERVE_ROUTE_PREFIX`. Everything is copied.
 *
 * # Safety
 * `srv` valid; every pointer readable for its length.
 */
enum fastserve_result fastserve_server_route_static(struct fastserve_server *srv,
                                                    const char *method,
                                                    size_t method_len,
                                                    const char *path,
                                                    size_t path_len,
                                                    uint32_t flags,
                                                    uint16_t status,
                                                    const char *content_type,
                                                    size_t content_type_len,
                                                    const uint8_t *body,
                                                    size_t body_len);

/**
 * Adds a handler route. `method` NULL matches any method (a GET route also
 * answers HEAD, with the body left out). `userdata` is passed to every call,
 * from worker threads, possibly concurrently with several workers.
 *
 * # Safety
 * `srv` valid; pointers readable for their lengths.
 */
enum fastserve_result fastserve_server_route(struct fastserve_server *srv,
                                             const char *method,
                                             size_t method_len,
                                             const char *path,
                                             size_t path_len,
                                             uint32_t flags,
                                             fastserve_handler handler,
                                             void *userdata);

/**
 * Replaces the response for unknown paths (status 404) or for a known path
 * with another method (status 405).
 *
 * # Safety
 * `srv` valid; pointers readable for their lengths.
 */
enum fastserve_result fastserve_server_set_error_page(struct fastserve_server *srv,
                                                      uint16_t status,
                                                      const char *content_type,
                                                      size_t content_type_len,
                                                      const uint8_t *body,
                                                      size_t body_len);

/**
 * Binds the listening sockets: an IPv4 or IPv6 literal (`host`, not
 * NUL-terminated) and a port; port 0 picks a free one (see
 * `fastserve_server_port`). Errors surface here, not in `start`.
 *
 * # Safety
 * `srv` valid; `host` readable for `host_len` bytes.
 */
enum fastserve_result fastserve_server_listen(struct fastserve_server *srv,
                                              const char *host,
                                              size_t host_len,
                                              uint16_t port);

/**
 * The bound port, or 0 before a successful `fastserve_server_listen`.
 *
 * # Safety
 * `srv` is NULL or valid.
 */
uint16_t fastserve_server_port(const struct fastserve_server *srv);

/**
 * Starts the worker threads and returns. Routes are fixed from here on.
 *
 * # Safety
 * `srv` is NULL or valid.
 */
enum fastserve_result fastserve_server_start(struct fastserve_server *srv);

/**
 * Blocks until the workers exit (after `fastserve_server_stop`).
 *
 * # Safety
 * `srv` is NULL or valid.
 */
enum fastserve_result fastserve_server_wait(const struct fastserve_server *srv);

/**
 * `fastserve_server_start`, then `fastserve_server_wait`.
 *
 * # Safety
 * `srv` is NULL or valid.
 */
enum fastserve_result fastserve_server_run(struct fastserve_server *srv);

/**
 * Stops gracefully: no new connections; requests in flight are answered;
 * then connections close and the workers exit. Returns at once. Safe from
 * any thread and from a signal handler (it stores a flag and writes to an
 * eventfd). Called before `start` or `run` (a signal that came early), it
 * still counts: the server stops as soon as it has started.
 *
 * # Safety
 * `srv` is NULL or valid.
 */
enum fastserve_result fastserve_server_stop(const struct fastserve_server *srv);

/**
 * Reads the counters into `*out`.
 *
 * # Safety
 * `srv` valid; `out` writable.
 */
enum fastserve_result fastserve_server_stats(const struct fastserve_server *srv,
                                             struct fastserve_stats *out);

/**
 * The method, e.g. `GET`.
 *
 * # Safety
 * `req` is the request of a running handler call.
 */
struct fastserve_str fastserve_request_method(const struct fastserve_request *req);

/**
 * The path: the request target up to `?`.
 *
 * # Safety
 * `req` is the request of a running handler call.
 */
struct fastserve_str fastserve_request_path(const struct fastserve_request *req);

/**
 * The query string after `?` (without it); `ptr` is NULL when there is no `?`.
 *
 * # Safety
 * `req` is the request of a running handler call.
 */
struct fastserve_str fastserve_request_query(const struct fastserve_request *req);

/**
 * The request target exactly as sent.
 *
 * # Safety
 * `req` is the request of a running handler call.
 */
struct fastserve_str fastserve_request_target(const struct fastserve_request *req);

/**
 * The body (Content-Length or decoded chunked); empty when there is none.
 *
 * # Safety
 * `req` is the request of a running handler call.
 */
struct fastserve_str fastserve_request_body(const struct fastserve_request *req);

/**
 * 0 for HTTP/1.0, 1 for HTTP/1.1; -1 for a NULL request.
 *
 * # Safety
 * `req` is the request of a running handler call.
 */
int fastserve_request_minor_version(const struct fastserve_request *req);

/**
 * The first header named `name` (case-insensitive); `ptr` NULL when absent.
 *
 * # Safety
 * `req` is the request of a running handler call; `name` readable.
 */
struct fastserve_str fastserve_request_header(const struct fastserve_request *req,
                                              const char *name,
                                              size_t name_len);

/**
 * How many header fields the request has.
 *
 * # Safety
 * `req` is the request of a running handler call.
 */
size_t fastserve_request_header_count(const struct fastserve_request *req);

/**
 * The `i`-th header field, in the order received.
 *
 * # Safety
 * `req` is the request of a running handler call; `name` and `value` writable.
 */
enum fastserve_result fastserve_request_header_at(const struct fastserve_request *req,
                                                  size_t i,
                                                  struct fastserve_str *name,
                                                  struct fastserve_str *value);

/**
 * Sets the status code (200 by default; 200..999).
 *
 * # Safety
 * `res` is a live response handle.
 */
enum fastserve_result fastserve_response_status(struct fastserve_response *res, uint16_t status);

/**
 * Adds a header field (copied). `Content-Length`, `Date`, `Connection` and
 * `Transfer-Encoding` are set by the engine and refused here.
 *
 * # Safety
 * `res` live; `name` and `value` readable for their lengths.
 */
enum fastserve_result fastserve_response_header(struct fastserve_response *res,
                                                const char *name,
                                                size_t name_len,
                                                const char *value,
                                                size_t value_len);

/**
 * Sets the body, copying `len` bytes from `body`.
 *
 * # Safety
 * `res` live; `body` readable for `len` bytes.
 */
enum fastserve_result fastserve_response_body(struct fastserve_response *res,
                                              const uint8_t *body,
                                              size_t len);

/**
 * Sets a body that is sent from `body` without a copy. The bytes must stay
 * valid and unchanged until `release(userdata)` is called (once, from any
 * thread) after they were sent or dropped. `release` may be NULL.
 *
 * # Safety
 * `res` live; `body` readable for `len` bytes until released.
 */
enum fastserve_result fastserve_response_body_borrowed(struct fastserve_response *res,
                                                       const uint8_t *body,
                                                       size_t len,
                                                       fastserve_release_fn release,
                                                       void *userdata);

/**
 * Detaches the response from the handler call. Returns a new handle, usable
 * from any thread, to fill and then `fastserve_response_send` later; the
 * handler's own `res` must not be used again. Responses on one connection
 * still go out in request order. Returns NULL if `res` was already sent or
 * deferred. A deferred handle that is never sent holds its connection's
 * later responses back; always send it.
 *
 * # Safety
 * `res` is the live inline handle of a running handler.
 */
struct fastserve_response *fastserve_response_defer(struct fastserve_response *res);

/**
 * Finishes the response. For the inline handle it is optional (the response
 * goes out when the handler returns). For a deferred handle it posts the
 * response to its worker and frees the handle: do not use it afterwards.
 *
 * # Safety
 * `res` is a live handle.
 */
enum fastserve_result fastserve_response_send(struct fastserve_response *res);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* FASTSERVE_H */
