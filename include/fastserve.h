/*
 * fastserve.h: the C API of fastserve, an HTTP/1.1 engine.
 *
 * Generated from src/ffi by build.rs and cbindgen; do not edit. After
 * changing src/ffi, run `make header`. Read it from the top: the sections
 * follow one another as a manual does.
 */

#ifndef FASTSERVE_H
#define FASTSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ==========================================================================
 * Overview
 *
 * fastserve: an HTTP/1.1 engine. Its layers, each usable alone:
 *
 * - a server (`fastserve_server_*`): worker threads with their own event
 *   loops, static routes, C handlers answered inline or later from any
 *   thread (deferred responses), and batch routes that hand a whole batch
 *   of requests to one call;
 * - a sans-I/O connection (`fastserve_conn_*`) for programs that run
 *   their own event loop;
 * - the parser (`fastserve_parse_*`), and the same parser behind
 *   picohttpparser's API (`phr_*`, in picohttpparser.h).
 *
 * Conventions:
 *
 * - Byte strings cross as `const char *` plus a `size_t` length, never
 *   NUL-terminated unless a comment says so; a pointer may be NULL only
 *   when its length is 0. Results come back the same way (`fastserve_str`).
 * - A call that can fail returns a `fastserve_result`: 0
 *   (`FASTSERVE_RESULT_OK`) is success. `fastserve_result_str` names a
 *   code; `fastserve_last_error` says what went wrong in the last failed
 *   call on the calling thread.
 * - Objects are opaque and come in `_new`/`_free` pairs; the caller owns
 *   what `_new` returns and frees it exactly once; `_free(NULL)` does
 *   nothing. Every other pointer argument is borrowed for the call only,
 *   and what the library copies is said in each function's comment.
 * - Which thread may call what is said with each object.
 * - No Rust panic unwinds into C: every function catches it, and its
 *   comment says what it returns then (usually `FASTSERVE_RESULT_PANIC`).
 *   A panic is a fastserve bug; please report it.
 * ========================================================================== */

/**
 * Major version of the library, as in `fastserve_version()`.
 */
#define FASTSERVE_VERSION_MAJOR 0

/**
 * Minor version of the library.
 */
#define FASTSERVE_VERSION_MINOR 1

/**
 * Patch version of the library.
 */
#define FASTSERVE_VERSION_PATCH 0

/**
 * A byte string: `len` bytes at `ptr`, not NUL-terminated. `ptr` is NULL
 * when the value is absent (`len` is then 0). Where the bytes live and for
 * how long is said by the function that returns it.
 */
typedef struct fastserve_str {
  const char *ptr;
  size_t len;
} fastserve_str;

/**
 * The library's version, e.g. "0.1.0": a static NUL-terminated string
 * that lives as long as the program. Compare with the
 * `FASTSERVE_VERSION_*` macros to see which version a program was
 * compiled against. Any thread.
 *
 * On an internal panic: returns "".
 */
const char *fastserve_version(void);

/* ==========================================================================
 * Results and errors
 *
 * Every call that can fail returns a `fastserve_result`; 0 is success.
 * Beside the code, `fastserve_last_error` holds a sentence about the last
 * failure on the calling thread, the way libcurl's error buffer does.
 *
 * Which calls set it: every call that returns a `fastserve_result` other
 * than `FASTSERVE_RESULT_OK` and `FASTSERVE_RESULT_PARTIAL`, and the calls
 * whose comment says they set it when they return NULL. Calls that succeed
 * leave it as it was, so read it right after the failed call. The
 * picohttpparser functions (`phr_*`) never touch it.
 * ========================================================================== */

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
   * Chunked body: the trailer section is larger than the decoder allows.
   */
  FASTSERVE_RESULT_TRAILER_TOO_LARGE = 22,
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
  /**
   * A stream's budget is used up: nothing was queued. Write again after
   * FASTSERVE_STREAM_WRITABLE.
   */
  FASTSERVE_RESULT_WOULD_BLOCK = 34,
  /**
   * The client went away: the stream or connection is closed.
   */
  FASTSERVE_RESULT_CLOSED = 35,
} fastserve_result;

/**
 * A static, NUL-terminated description of a result code, e.g. "invalid
 * argument"; unknown codes give "unknown result code". Never NULL; the
 * string lives as long as the program. Any thread.
 *
 * On an internal panic: returns "".
 */
const char *fastserve_result_str(int32_t code);

/**
 * What went wrong in the last failed fastserve call on this thread, as
 * a NUL-terminated sentence, e.g. "route path \"x\" must start with
 * '/'" or "bind 127.0.0.1:80: Permission denied (os error 13)". Calls
 * that succeed leave it unchanged; before any failure it is "".
 * Never NULL.
 *
 * The string belongs to the library and stays valid until the next
 * fastserve call on the same thread: copy it to keep it. Each thread
 * has its own (a handler's failures are on its worker thread).
 *
 * On an internal panic: returns "".
 */
const char *fastserve_last_error(void);

/* ==========================================================================
 * Configuration
 *
 * A configuration holds the engine's limits and timeouts. Create one, set
 * what differs from the defaults, pass it to `fastserve_server_new` or
 * `fastserve_conn_new` (which copy it), and free it. Each setter refuses
 * 0 and out-of-range values with `FASTSERVE_RESULT_INVALID_ARGUMENT` and
 * then leaves the setting as it was.
 * ========================================================================== */

/**
 * Engine settings. Owned by the caller, from `fastserve_config_new` to
 * `fastserve_config_free`; the calls that take one copy it. Not
 * thread-safe: use each configuration from one thread at a time.
 */
typedef struct fastserve_config fastserve_config;

/**
 * Creates a configuration with the defaults (1 worker, 10000
 * connections per worker, 8 KiB heads, 100 headers, 1 MiB bodies).
 * The caller owns it: free it with `fastserve_config_free`.
 *
 * On an internal panic: returns NULL.
 */
struct fastserve_config *fastserve_config_new(void);

/**
 * Frees a configuration. NULL does nothing.
 *
 * # Safety
 * `cfg` is NULL or a configuration from `fastserve_config_new` that was
 * not freed; it must not be used afterwards.
 *
 * On an internal panic: returns, and the configuration may leak.
 */
void fastserve_config_free(struct fastserve_config *cfg);

/**
 * Worker threads (default 1). Each runs its own event loop and
 * listening socket. 0 and more than 1024 are refused (each worker takes
 * descriptors and a thread; past the cores, more only cost).
 *
 * # Safety
 * `cfg` is NULL or a configuration from `fastserve_config_new` that was
 * not freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_workers(struct fastserve_config *cfg, size_t value);

/**
 * Most open connections per worker (default 10000); connections past
 * it are closed as soon as they are accepted. 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_max_connections(struct fastserve_config *cfg,
                                                           size_t value);

/**
 * Largest request head in bytes (default 8192); a larger one is
 * answered 431. 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_max_header_bytes(struct fastserve_config *cfg,
                                                            size_t value);

/**
 * Longest request line in bytes, without its CRLF (default 8192); a
 * longer one is answered 414. 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_max_request_line(struct fastserve_config *cfg,
                                                            size_t value);

/**
 * Most header fields per request (default 100); more is answered 431.
 * 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_max_headers(struct fastserve_config *cfg, size_t value);

/**
 * Largest request body in bytes (default 1 MiB); a larger one is
 * answered 413. 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_max_body(struct fastserve_config *cfg, size_t value);

/**
 * Most requests in flight per connection (default 128); at the limit
 * the connection is not read until responses drain. 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_max_pipelined(struct fastserve_config *cfg,
                                                         size_t value);

/**
 * Most unsent response bytes per connection (default 1 MiB); past it
 * the connection is not read until the client reads. 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_max_unsent_bytes(struct fastserve_config *cfg,
                                                            size_t value);

/**
 * `SO_RCVBUF` of each connection, in bytes (default: the kernel's
 * autotuning, which grows to megabytes). Bounds what a client can queue
 * that the server is not reading. The kernel doubles the value and caps
 * it at `net.core.rmem_max`. 0 and values over `INT_MAX` are refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_socket_recv_buffer(struct fastserve_config *cfg,
                                                              size_t value);

/**
 * `SO_SNDBUF` of each connection, in bytes (default: the kernel's
 * autotuning, which grows to megabytes). Bounds the responses the
 * kernel takes for a client that does not read them. The kernel doubles
 * the value and caps it at `net.core.wmem_max`. 0 and values over
 * `INT_MAX` are refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_socket_send_buffer(struct fastserve_config *cfg,
                                                              size_t value);

/**
 * Buffer block size in bytes (default 16384, rounded up to 4 KiB).
 * 0 and values over 64 MiB are refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_buffer_size(struct fastserve_config *cfg, size_t value);

/**
 * Buffers each worker keeps for reuse (default 256, so 4 MiB at the
 * default buffer size); buffers given back beyond them are freed, and
 * after a burst of connections the memory goes back to the system. 0 is
 * refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_spare_buffers(struct fastserve_config *cfg,
                                                         size_t value);

/**
 * How long `fastserve_server_stop` lets requests in flight finish, in
 * ms (default 30000). 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_shutdown_grace_ms(struct fastserve_config *cfg,
                                                             uint64_t value);

/**
 * A request head must be complete this many ms after its first byte
 * (default 10000); else 408 and the connection closes. 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_header_timeout_ms(struct fastserve_config *cfg,
                                                             uint64_t value);

/**
 * A request body may pause this many ms between reads (default 30000);
 * else 408 and the connection closes. 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_body_timeout_ms(struct fastserve_config *cfg,
                                                           uint64_t value);

/**
 * An idle keep-alive connection is closed after this many ms (default
 * 60000). 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_keepalive_timeout_ms(struct fastserve_config *cfg,
                                                                uint64_t value);

/**
 * Output that makes no progress for this many ms drops the connection
 * (default 30000). 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_write_timeout_ms(struct fastserve_config *cfg,
                                                            uint64_t value);

/**
 * A deferred response not sent within this many ms is answered 503
 * (default 60000). 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_request_timeout_ms(struct fastserve_config *cfg,
                                                              uint64_t value);

/**
 * The least average rate, in bytes per second, at which a request body
 * must arrive once `min_rate_grace_ms` has passed since it began
 * (default 240, as Kestrel's); slower, the request gets 408 and the
 * connection closes. 0 removes the minimum.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_min_body_rate(struct fastserve_config *cfg,
                                                         uint64_t bytes_per_second);

/**
 * The least average rate, in bytes per second, at which a client must
 * take the responses waiting for it once `min_rate_grace_ms` has passed
 * since they began waiting (default 240); slower, the connection is
 * dropped. 0 removes the minimum.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_min_send_rate(struct fastserve_config *cfg,
                                                         uint64_t bytes_per_second);

/**
 * How long a body or a response may go at any rate before the minimum
 * rates apply, in ms (default 5000). 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_min_rate_grace_ms(struct fastserve_config *cfg,
                                                             uint64_t value);

/**
 * On a listener with `FASTSERVE_LISTEN_PROXY`, the PROXY header must be
 * complete this many ms after the connection is accepted (default
 * 5000); else the connection closes without a response. 0 is refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_proxy_header_timeout_ms(struct fastserve_config *cfg,
                                                                   uint64_t value);

/**
 * How long, at most, a connection closed after an error answer (400,
 * 413, 431, a timeout's 408) lingers, in ms (default 5000): its write
 * side is shut and what the client still sends is read and dropped, so
 * that a client that pipelined past the bad request reads the answer
 * instead of a reset. The socket closes sooner once the client closes
 * its side or sent 1 MiB more. Lingering connections count against
 * `max_connections` and are the first to give way to new ones. 0 is
 * refused.
 *
 * # Safety
 * As `fastserve_config_set_workers`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_linger_timeout_ms(struct fastserve_config *cfg,
                                                             uint64_t value);

/**
 * Sets the `Server` header value (copied); `len == 0` removes the
 * header. A control byte in the value is refused.
 *
 * # Safety
 * `cfg` is NULL or a configuration from `fastserve_config_new` that was
 * not freed; `name` is NULL or readable for `len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_server_name(struct fastserve_config *cfg,
                                                       const char *name,
                                                       size_t len);

/**
 * The workers' event loop: `"epoll"`, `"io_uring"` or `"auto"` (the
 * default, which is epoll today), `len` bytes, not NUL-terminated. The
 * environment variable `FASTSERVE_DRIVER` (same names) overrides it when
 * the server starts. Where the kernel refuses io_uring (too old,
 * `kernel.io_uring_disabled`, a seccomp filter), the server runs on
 * epoll and says so once on stderr; `fastserve_server_driver` tells
 * which one runs. Another name is refused.
 *
 * # Safety
 * `cfg` is NULL or a configuration from `fastserve_config_new` that was
 * not freed; `name` is NULL or readable for `len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_config_set_driver(struct fastserve_config *cfg,
                                                  const char *name,
                                                  size_t len);

/* ==========================================================================
 * Server
 *
 * The server: create it from a configuration, add routes, listen, start
 * it, and stop it (from any thread, or a signal handler). Routes are
 * static responses, C handlers (see "Requests and responses"), or batch
 * routes (see "Batch routes"); all are fixed once the server starts.
 *
 * ```c
 * fastserve_server *srv = fastserve_server_new(NULL);
 * fastserve_server_route_static(srv, "GET", 3, "/", 1, 0, 200, "text/plain", 10, "hi", 2);
 * if (fastserve_server_listen(srv, "127.0.0.1", 9, 8080) != FASTSERVE_RESULT_OK)
 *     fprintf(stderr, "%s\n", fastserve_last_error());
 * fastserve_server_run(srv);   // until fastserve_server_stop(srv)
 * fastserve_server_free(srv);
 * ```
 * ========================================================================== */

struct fastserve_request;  /* see "Requests and responses" */
struct fastserve_response;  /* see "Requests and responses" */

/**
 * Route flag: match every path that starts with the given path.
 */
#define FASTSERVE_ROUTE_PREFIX 1

/**
 * Directory route flag: a path ending in `/` serves that directory's
 * `index.html` (without the slash, a 301 adds it). Without it directories
 * are 404.
 */
#define FASTSERVE_DIR_INDEX 1

/**
 * Directory route flag: follow symlinks wherever they lead. Without it a
 * symlink may only point (relatively) within the root.
 */
#define FASTSERVE_DIR_FOLLOW_SYMLINKS 2

/**
 * A server. Owned by the caller, from `fastserve_server_new` to
 * `fastserve_server_free`. `fastserve_server_stop` and
 * `fastserve_server_stats` may be called from any thread at any time
 * (`stop` also from a signal handler); every other call from one thread
 * at a time, and not from the server's own handlers.
 */
typedef struct fastserve_server fastserve_server;

/**
 * A request handler. Runs on a worker thread, possibly on several at once
 * with several workers; it must not block for long. It answers through
 * `res` (status, headers, body; sent when it returns) or calls
 * `fastserve_response_defer` to answer later. `req` and `res` are valid
 * until it returns. A non-zero return answers 500 unless a response was
 * already sent or deferred.
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
 * Creates a server from `cfg` (copied; NULL means the defaults). The
 * caller owns it: free it with `fastserve_server_free`.
 *
 * # Safety
 * `cfg` is NULL or a configuration from `fastserve_config_new` that was
 * not freed.
 *
 * On an internal panic: returns NULL.
 */
struct fastserve_server *fastserve_server_new(const struct fastserve_config *cfg);

/**
 * Stops the server if it runs, waits for its workers to exit, and
 * frees it. NULL does nothing. Deferred responses not sent by then are
 * dropped.
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed; it must not be used afterwards, from any thread.
 *
 * On an internal panic: returns, and the server may leak.
 */
void fastserve_server_free(struct fastserve_server *srv);

/**
 * Adds a static route: the response (status, Content-Type, body) is
 * rendered now, and served with the current Date without calling out.
 * `method` NULL matches any method (a GET route also answers HEAD).
 * `path` and `flags` as in `fastserve_server_route`. `content_type_len == 0`
 * sends no Content-Type. Status 200..999; 204 and 304 with an empty
 * body. Everything is copied.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `method` is NULL or readable for `method_len` bytes, and so are
 * `path`, `content_type` and `body` for their lengths.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
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
                                                    const char *body,
                                                    size_t body_len);

/**
 * Adds a static directory route: GET and HEAD of `prefix` and of every
 * path below it are answered from the files under `root`, with
 * sendfile. `flags` may hold `FASTSERVE_DIR_INDEX` and
 * `FASTSERVE_DIR_FOLLOW_SYMLINKS`. `root` (not NUL-terminated) must be
 * a directory; it is opened now, and its descriptor kept until
 * `fastserve_server_free`. Answers carry Content-Type (by extension),
 * ETag and Last-Modified, honour If-None-Match, If-Modified-Since,
 * a single `Range` and If-Range; paths that would leave the root
 * (`..`, encoded or not, encoded `/`, backslashes, symlinks out) are
 * 404, malformed ones (NUL, a bad `%` escape) 400. Files are opened
 * and stat-ed on the worker thread. Everything is copied.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `prefix` and `root` are readable for their lengths.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_route_dir(struct fastserve_server *srv,
                                                 const char *prefix,
                                                 size_t prefix_len,
                                                 const char *root,
                                                 size_t root_len,
                                                 uint32_t flags);

/**
 * Adds a handler route. `method` NULL matches any method, else it is
 * any token ("PURGE" too); a GET route also answers HEAD, with the
 * body left out. `path` is exact, or a pattern: `{name}` captures one
 * non-empty segment, a last `{name*}` the non-empty rest of the path
 * (`/users/{id}`, `/files/{path*}`; see `fastserve_request_param`).
 * `flags` may hold `FASTSERVE_ROUTE_PREFIX` (for a path without
 * parameters). Exact paths win over patterns, patterns over prefixes;
 * the manual's "Routing" says the rest. A method that is not a token
 * or a malformed pattern is `FASTSERVE_RESULT_INVALID_ARGUMENT`,
 * with the reason in `fastserve_last_error`. `handler` is called with `userdata` on
 * worker threads, possibly concurrently with several workers, until
 * `fastserve_server_free` returns.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `method` is NULL or readable for `method_len` bytes; `path` is
 * readable for `path_len` bytes; `userdata` is usable from any thread.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
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
 * Replaces the response for unknown paths (`status` 404) or for a
 * known path asked with another method (`status` 405; the engine adds
 * the `Allow` field, listing the methods of the routes of that path).
 * `content_type_len == 0` sends no Content-Type. Everything is copied.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `content_type` and `body` are NULL or readable for their lengths.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_set_error_page(struct fastserve_server *srv,
                                                      uint16_t status,
                                                      const char *content_type,
                                                      size_t content_type_len,
                                                      const char *body,
                                                      size_t body_len);

/**
 * Adds a TCP listener: `host` (`host_len` bytes, not NUL-terminated)
 * is an IPv4 or IPv6 literal (`::1` or `[::1]`; `::` also takes IPv4)
 * or a host name, resolved now, with a listener on every address it
 * has (see "Listeners"). Port 0 picks a free port (see
 * `fastserve_server_port`). Each call adds listeners; see
 * `fastserve_server_listen_tcp` for flags. Errors surface here, not in
 * `start`: `FASTSERVE_RESULT_IO` with the system's reason in
 * `fastserve_last_error`.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `host` is readable for `host_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_listen(struct fastserve_server *srv,
                                              const char *host,
                                              size_t host_len,
                                              uint16_t port);

/**
 * The first TCP listener's port, or 0 before one is added (and for
 * NULL). Any thread, once `listen` has returned.
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed.
 *
 * On an internal panic: returns 0.
 */
uint16_t fastserve_server_port(const struct fastserve_server *srv);

/**
 * The event loop the workers run, `"epoll"` or `"io_uring"` (see
 * `fastserve_config_set_driver`): a static NUL-terminated string, or
 * NULL before `start` (and for a NULL `srv`). Any thread.
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed.
 *
 * On an internal panic: returns NULL.
 */
const char *fastserve_server_driver(const struct fastserve_server *srv);

/**
 * Starts the worker threads and returns. Needs a successful
 * `fastserve_server_listen` first. Routes are fixed from here on.
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_start(struct fastserve_server *srv);

/**
 * Blocks until the workers exit (after `fastserve_server_stop`).
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_wait(const struct fastserve_server *srv);

/**
 * `fastserve_server_start`, then `fastserve_server_wait`.
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_run(struct fastserve_server *srv);

/**
 * Stops gracefully: no new connections; requests in flight are
 * answered; then connections close and the workers exit. Returns at
 * once. Any thread; with a valid `srv` it only stores a flag and writes
 * to an eventfd, so it is also safe in a signal handler. Called before
 * `start` or `run` (a signal that came early), it still counts: the
 * server stops as soon as it has started.
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_stop(const struct fastserve_server *srv);

/**
 * Writes the counters to `*out`. Any thread.
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed; `out` is NULL or writable.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_stats(const struct fastserve_server *srv,
                                             struct fastserve_stats *out);

/* ==========================================================================
 * Listeners
 *
 * Where a server listens: any number of listeners, each added by one call
 * before `fastserve_server_start`: TCP addresses or host names, Unix socket
 * paths and abstract names, a descriptor the caller bound, and the sockets
 * systemd passed. TCP addresses get one `SO_REUSEPORT` socket per worker;
 * a Unix socket or an adopted descriptor is shared by the workers.
 *
 * Each call takes flags: `FASTSERVE_LISTEN_PROXY` makes every connection
 * on that listener start with a PROXY protocol header (v1 or v2, from a
 * load balancer), whose client address handlers then see
 * (`fastserve_request_peer`). A connection whose header is missing,
 * malformed, truncated or not complete within the PROXY header timeout
 * (`fastserve_config_set_proxy_header_timeout_ms`) is closed without a
 * response. A v2 `LOCAL` header (a health check) keeps the socket's peer.
 *
 * ```c
 * fastserve_server_listen_tcp(srv, "::", 2, 8080, 0);  // IPv6 and IPv4
 * fastserve_server_listen_unix(srv, "/run/app.sock", 13, 0660, FASTSERVE_LISTEN_PROXY);
 * fastserve_server_listen_systemd(srv, NULL, 0, 0);    // every passed socket
 * ```
 * ========================================================================== */

/**
 * Listen flag: connections start with a PROXY protocol header (v1 or v2).
 */
#define FASTSERVE_LISTEN_PROXY 1

/**
 * Listen flag: an IPv6 address takes IPv6 connections only. Without it
 * `::` takes IPv4 connections too (`IPV6_V6ONLY` off).
 */
#define FASTSERVE_LISTEN_V6ONLY 2

/**
 * Adds TCP listeners, as `fastserve_server_listen`, with flags
 * (`FASTSERVE_LISTEN_PROXY`, `FASTSERVE_LISTEN_V6ONLY`).
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `host` is readable for `host_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_listen_tcp(struct fastserve_server *srv,
                                                  const char *host,
                                                  size_t host_len,
                                                  uint16_t port,
                                                  uint32_t flags);

/**
 * Adds a Unix domain socket listener. `path` (`path_len` bytes, not
 * NUL-terminated) is a file path, or, starting with `@`, a Linux
 * abstract name (`@app`; no file, `mode` unused). `mode`
 * sets the file's permission bits (e.g. `0660`), before any client
 * can connect; 0 keeps what the umask gives.
 *
 * A socket file left by a process that is gone (connecting to it is
 * refused) is replaced; if a process still listens on it, or the path
 * is not a socket, the call fails with `FASTSERVE_RESULT_IO`. The file
 * is removed by `fastserve_server_free` unless another socket replaced
 * it meanwhile. Clients of a Unix socket have a Unix peer
 * (`fastserve_request_peer` gives `AF_UNIX`).
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `path` is readable for `path_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_listen_unix(struct fastserve_server *srv,
                                                   const char *path,
                                                   size_t path_len,
                                                   uint32_t mode,
                                                   uint32_t flags);

/**
 * Adopts a listening socket the caller created, bound and put in
 * listening state: TCP (IPv4 or IPv6) or a Unix stream socket. It is
 * made non-blocking and close-on-exec, and shared by the workers.
 *
 * Ownership: the server takes `fd` in every case. It is closed by
 * `fastserve_server_free`, or before this call returns when the call
 * fails (a NULL `srv`, unknown flags, a descriptor that is not a
 * listening stream socket: `FASTSERVE_RESULT_INVALID_ARGUMENT`). A
 * negative `fd` is refused with nothing to close. To keep a copy, pass
 * `dup(fd)`.
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed; `fd` is negative or an open descriptor that nothing else
 * closes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC (`fd` is then
 * closed, or was adopted).
 */
enum fastserve_result fastserve_server_listen_fd(struct fastserve_server *srv,
                                                 int fd,
                                                 uint32_t flags);

/**
 * Adopts the sockets systemd passed by socket activation
 * (`LISTEN_PID`, `LISTEN_FDS`, descriptors from 3): all of them when
 * `name` is NULL, else those whose `LISTEN_FDNAMES` entry (the unit's
 * `FileDescriptorName=`) is `name` (`name_len` bytes). Each is adopted
 * as by `fastserve_server_listen_fd`, with `flags`.
 *
 * The inherited descriptors stay open and the environment unchanged;
 * they are marked close-on-exec and the server listens on duplicates,
 * so several calls (a name each) or servers may adopt them. Fails with
 * `FASTSERVE_RESULT_INVALID_ARGUMENT` when the variables are missing,
 * meant for another process, or name no such socket.
 *
 * ```ini
 * # app.socket                        # app.service: ExecStart=/usr/bin/app
 * [Socket]
 * ListenStream=8080
 * FileDescriptorName=http
 * ```
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `name` is NULL or readable for `name_len` bytes. No other thread
 * changes the environment during the call.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_listen_systemd(struct fastserve_server *srv,
                                                      const char *name,
                                                      size_t name_len,
                                                      uint32_t flags);

/* ==========================================================================
 * Requests and responses
 *
 * A handler (`fastserve_handler`) gets the request and the response it
 * fills in. Everything the request returns points into the connection's
 * buffer and is valid until the handler returns: copy what a deferred
 * response needs. The response is sent when the handler returns, unless
 * the handler deferred it (see "Deferred responses").
 *
 * ```c
 * static int echo(const fastserve_request *req, fastserve_response *res, void *userdata)
 * {
 *     fastserve_str body = fastserve_request_body(req);
 *     fastserve_response_header(res, "Content-Type", 12, "text/plain", 10);
 *     return fastserve_response_body(res, body.ptr, body.len) != FASTSERVE_RESULT_OK;
 * }
 * ```
 * ========================================================================== */

/**
 * A request, handed to a handler and valid until it returns. Use it only
 * on the handler's thread.
 */
typedef struct fastserve_request fastserve_request;

/**
 * A response under construction. The one a handler receives (inline) is
 * valid until the handler returns, on the handler's thread. After
 * `fastserve_response_defer` the new handle may be used from any thread,
 * one thread at a time, until `fastserve_response_send` consumes it.
 */
typedef struct fastserve_response fastserve_response;

/**
 * The method, e.g. "GET"; `ptr` NULL for a NULL `req`.
 *
 * # Safety
 * `req` is NULL or the request of the handler call running on this
 * thread.
 *
 * On an internal panic: returns { NULL, 0 }.
 */
struct fastserve_str fastserve_request_method(const struct fastserve_request *req);

/**
 * The path: the request target up to `?`. For an absolute-form target
 * (`GET http://host/a?b`) the path after the authority (`/a`; `/` when
 * empty), and the `Host` field reads as that authority; for `OPTIONS *`
 * `*`, for `CONNECT host:port` the target.
 *
 * # Safety
 * As `fastserve_request_method`.
 *
 * On an internal panic: returns { NULL, 0 }.
 */
struct fastserve_str fastserve_request_path(const struct fastserve_request *req);

/**
 * The query string after `?` (without it); `ptr` is NULL when there is
 * no `?`.
 *
 * # Safety
 * As `fastserve_request_method`.
 *
 * On an internal panic: returns { NULL, 0 }.
 */
struct fastserve_str fastserve_request_query(const struct fastserve_request *req);

/**
 * The request target exactly as sent (an absolute-form one with its
 * scheme and authority).
 *
 * # Safety
 * As `fastserve_request_method`.
 *
 * On an internal panic: returns { NULL, 0 }.
 */
struct fastserve_str fastserve_request_target(const struct fastserve_request *req);

/**
 * The body (Content-Length or decoded chunked); empty when there is
 * none. Pass it to `fastserve_response_body` as it is to echo it.
 *
 * # Safety
 * As `fastserve_request_method`.
 *
 * On an internal panic: returns { NULL, 0 }.
 */
struct fastserve_str fastserve_request_body(const struct fastserve_request *req);

/**
 * 0 for HTTP/1.0, 1 for HTTP/1.1; -1 for a NULL request.
 *
 * # Safety
 * As `fastserve_request_method`.
 *
 * On an internal panic: returns -1.
 */
int fastserve_request_minor_version(const struct fastserve_request *req);

/**
 * The value of the first header named `name` (compared
 * case-insensitively); `ptr` is NULL when there is none. `Host` is the
 * authority of an absolute-form target, which replaces it.
 *
 * # Safety
 * As `fastserve_request_method`; `name` is readable for `name_len`
 * bytes.
 *
 * On an internal panic: returns { NULL, 0 }.
 */
struct fastserve_str fastserve_request_header(const struct fastserve_request *req,
                                              const char *name,
                                              size_t name_len);

/**
 * How many header fields the request has (0 for NULL).
 *
 * # Safety
 * As `fastserve_request_method`.
 *
 * On an internal panic: returns 0.
 */
size_t fastserve_request_header_count(const struct fastserve_request *req);

/**
 * Writes the name and value of the `i`-th header field, in the order
 * received, to `*name` and `*value`. `FASTSERVE_RESULT_INVALID_ARGUMENT`
 * when `i` is not below `fastserve_request_header_count`.
 *
 * # Safety
 * As `fastserve_request_method`; `name` and `value` are writable.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_request_header_at(const struct fastserve_request *req,
                                                  size_t i,
                                                  struct fastserve_str *name,
                                                  struct fastserve_str *value);

/**
 * The client's address, the way getpeername(2) gives it: up to `*len`
 * bytes of a `struct sockaddr_in` or `sockaddr_in6` (TCP) or
 * `sockaddr_un` (a Unix socket) are copied to `addr`, and `*len`
 * receives the address's full size; a `struct sockaddr_storage` always
 * holds it. `*len` becomes 0 when the address is not known (a
 * `fastserve_conn` whose host did not call `fastserve_conn_set_peer`).
 *
 * ```c
 * struct sockaddr_storage ss;
 * socklen_t len = sizeof ss;
 * fastserve_request_peer(req, (struct sockaddr *)&ss, &len);
 * ```
 *
 * # Safety
 * As `fastserve_request_method`; `len` is writable and `addr` writable
 * for `*len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_request_peer(const struct fastserve_request *req,
                                             struct sockaddr *addr,
                                             socklen_t *len);

/**
 * The value of the path parameter `name` of the route's pattern (say
 * `id` in `/users/{id}`, or `path` in `/files/{path*}`),
 * percent-decoded: it may hold any byte, `/` and NUL included (a
 * `%2F` in a one-segment parameter is a `/` in the value; matching
 * was done on the raw path, see `fastserve_request_path`). `ptr` is
 * NULL when the route has no parameter of that name. Valid until the
 * handler returns.
 *
 * # Safety
 * As `fastserve_request_method`; `name` is readable for `name_len`
 * bytes.
 *
 * On an internal panic: returns { NULL, 0 }.
 */
struct fastserve_str fastserve_request_param(const struct fastserve_request *req,
                                             const char *name,
                                             size_t name_len);

/**
 * How many path parameters the route captured (0 for NULL, and for
 * routes without parameters).
 *
 * # Safety
 * As `fastserve_request_method`.
 *
 * On an internal panic: returns 0.
 */
size_t fastserve_request_param_count(const struct fastserve_request *req);

/**
 * Writes the name and the percent-decoded value of the `i`-th path
 * parameter, in pattern order, to `*name` and `*value`.
 * `FASTSERVE_RESULT_INVALID_ARGUMENT` when `i` is not below
 * `fastserve_request_param_count`.
 *
 * # Safety
 * As `fastserve_request_method`; `name` and `value` are writable.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_request_param_at(const struct fastserve_request *req,
                                                 size_t i,
                                                 struct fastserve_str *name,
                                                 struct fastserve_str *value);

/**
 * Sets the status code: 200 by default, 200..999 allowed.
 *
 * # Safety
 * `res` is the response of the handler call running on this thread, or
 * a deferred handle not yet sent, used by one thread at a time.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_response_status(struct fastserve_response *res, uint16_t status);

/**
 * Adds a header field (both copied). The name must be a token and the
 * value free of control bytes; `Content-Length`, `Date`, `Connection`
 * and `Transfer-Encoding` are set by the engine and refused here.
 *
 * # Safety
 * As `fastserve_response_status`; `name` and `value` are readable for
 * their lengths.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_response_header(struct fastserve_response *res,
                                                const char *name,
                                                size_t name_len,
                                                const char *value,
                                                size_t value_len);

/**
 * Sets the body, copying `len` bytes from `body`. The bytes of a
 * request (say `fastserve_request_body`) may be passed as they are.
 * 204 and 304 responses have no body: a non-empty one is refused
 * (`FASTSERVE_RESULT_INVALID_ARGUMENT`), and so is setting such a
 * status after a non-empty body.
 *
 * # Safety
 * As `fastserve_response_status`; `body` is NULL (with `len == 0`) or
 * readable for `len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_response_body(struct fastserve_response *res,
                                              const char *body,
                                              size_t len);

/**
 * Sets a body of `len` bytes and returns where to write them: the
 * body is built in place, without a buffer of the caller's and a copy.
 * The bytes start zeroed. The pointer stays valid until the next call
 * that sets the body or sends the response, and at most until the
 * handler returns (or, on a deferred handle, until
 * `fastserve_response_send`); write before then. For `len == 0` the
 * pointer is not NULL but must not be written. Returns NULL, and sets
 * `fastserve_last_error`, if `res` is NULL or already sent or deferred,
 * or if the status is one without a body (204, 304) and `len > 0`.
 *
 * # Safety
 * As `fastserve_response_status`.
 *
 * On an internal panic: returns NULL.
 */
char *fastserve_response_body_buffer(struct fastserve_response *res, size_t len);

/**
 * Sets a body of `length` bytes of the file `fd` from `offset`, sent
 * with `sendfile(2)` and never copied through user space. Content-Length
 * is `length`; a HEAD request gets the head only.
 *
 * Ownership: the engine takes `fd` in every case, and closes it once
 * the body is sent, when the connection closes, or, when this call
 * fails, before it returns. The caller must not use or close `fd`
 * afterwards. A negative `fd`, or one that is not open, is refused
 * (`FASTSERVE_RESULT_INVALID_ARGUMENT`) and there is nothing to close.
 * `fd` must be a regular file and `offset + length` within its size
 * now (else `FASTSERVE_RESULT_INVALID_ARGUMENT`, `fd` closed); should
 * the file shrink before it is sent, the connection is closed. The
 * file position is not used or moved.
 *
 * Works on the handler's `res` and on a deferred handle (from any
 * thread). Responses after it on the connection wait their turn. File
 * bytes do not count against `max_unsent_bytes` (they are not in
 * memory); `max_pipelined` bounds how many files one connection holds
 * open.
 *
 * # Safety
 * As `fastserve_response_status`; `fd` is a descriptor the caller owns
 * and gives away, or negative.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC (`fd` closed).
 */
enum fastserve_result fastserve_response_file(struct fastserve_response *res,
                                              int fd,
                                              uint64_t offset,
                                              uint64_t length);

/* ==========================================================================
 * Deferred responses
 *
 * A handler that cannot answer at once defers its response: it gets a
 * new handle, hands it to another thread, and returns. That thread fills
 * the response with the `fastserve_response_*` calls and sends it.
 * Responses on one connection still leave in request order.
 *
 * Large bodies can be sent without a copy (`fastserve_response_body_borrowed`):
 * the library then calls back when it no longer needs the bytes.
 * ========================================================================== */

/**
 * How a deferred response ended, for its `fastserve_end_fn`.
 */
typedef enum fastserve_end_reason {
  /**
   * It reached its connection (sent, streamed or switched).
   */
  FASTSERVE_END_SENT = 0,
  /**
   * The request timeout answered it 503 first: nobody waits for it.
   */
  FASTSERVE_END_TIMEOUT = 1,
  /**
   * Its client left before it was sent: nobody waits for it.
   */
  FASTSERVE_END_GONE = 2,
} fastserve_end_reason;

/**
 * Called once, on any thread, with the `userdata` given beside a borrowed
 * body, when the library no longer needs the body's bytes.
 */
typedef void (*fastserve_release_fn)(void *userdata);

/**
 * Told once how a deferred response ended, with the `userdata` given
 * beside it, on the connection's worker thread (or inside
 * `fastserve_response_on_end`, when it ended before). Free `userdata`
 * here. Must not block.
 */
typedef void (*fastserve_end_fn)(void *userdata, enum fastserve_end_reason reason);

/**
 * Sets a body that is sent from `body` without a copy. The bytes must
 * stay valid and unchanged until `release(userdata)` is called (once,
 * from any thread) after they were sent or dropped. `release` may be
 * NULL. It is also called, at once, when this call returns
 * `FASTSERVE_RESULT_RESPONSE_CLOSED`; not after a NULL argument.
 *
 * # Safety
 * `res` is the response of the handler call running on this thread, or
 * a deferred handle not yet sent, used by one thread at a time; `body`
 * is NULL (with `len == 0`) or readable for `len` bytes until released;
 * `release` is NULL or callable from any thread with `userdata`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_response_body_borrowed(struct fastserve_response *res,
                                                       const char *body,
                                                       size_t len,
                                                       fastserve_release_fn release,
                                                       void *userdata);

/**
 * Detaches the response from the handler call and returns a new
 * handle to fill and then `fastserve_response_send`, from any thread
 * (one at a time). The handler's own `res` must not be used again.
 * Returns NULL, and sets `fastserve_last_error`, if `res` is NULL or
 * was already sent or deferred. A deferred handle that is never sent
 * holds its connection's later responses back until the request
 * timeout answers it 503: always send it.
 *
 * # Safety
 * `res` is NULL or the response of the handler call running on this
 * thread.
 *
 * On an internal panic: returns NULL.
 */
struct fastserve_response *fastserve_response_defer(struct fastserve_response *res);

/**
 * Finishes the response. For the handler's own `res` it is optional
 * (the response goes out when the handler returns). A deferred handle
 * is posted to its worker and freed, whatever the result: do not use
 * it afterwards.
 *
 * # Safety
 * `res` is the response of the handler call running on this thread, or
 * a deferred handle not yet sent, used by one thread at a time.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC (a deferred
 * handle may then leak, and its request be answered 503 at the request
 * timeout).
 */
enum fastserve_result fastserve_response_send(struct fastserve_response *res);

/**
 * Has `on_end(userdata, reason)` called exactly once when the response
 * ends: `FASTSERVE_END_SENT` once it reached its connection, or, if
 * nobody waits for it any more, `FASTSERVE_END_TIMEOUT` (the request
 * timeout answered 503) or `FASTSERVE_END_GONE` (the client left): stop
 * the work done for it. Sending the handle after that is a harmless
 * no-op (still send or free it). On the handler's own `res`, it
 * applies when the handler returns (SENT at once unless it deferred);
 * on a deferred handle, before it is sent.
 *
 * # Safety
 * `res` is the response of the handler call running on this thread, or
 * a deferred handle not yet sent, used by one thread at a time;
 * `on_end` is callable as `fastserve_end_fn` says with `userdata`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_response_on_end(struct fastserve_response *res,
                                                fastserve_end_fn on_end,
                                                void *userdata);

/* ==========================================================================
 * Streamed responses
 *
 * A response whose body is written in pieces: `fastserve_response_stream`
 * sends the status and headers and returns a stream handle; any thread then
 * writes the body with `fastserve_stream_write` and finishes it with
 * `fastserve_stream_end`. A budget bounds the bytes queued per stream: past
 * it a write returns `FASTSERVE_RESULT_WOULD_BLOCK`, and the event callback
 * says when to write again.
 * ========================================================================== */

/**
 * What a stream's event callback is told.
 */
typedef enum fastserve_stream_event {
  /**
   * A write was refused with FASTSERVE_RESULT_WOULD_BLOCK and the queue
   * has since drained to half the budget: write again.
   */
  FASTSERVE_STREAM_WRITABLE = 1,
  /**
   * The last event, sent exactly once: the client went away (writes now
   * return FASTSERVE_RESULT_CLOSED; still end or abort the handle), or the
   * stream was ended or aborted and the library holds none of it any more.
   * Free `userdata` here.
   */
  FASTSERVE_STREAM_CLOSED = 2,
} fastserve_stream_event;

/**
 * A streamed response body, from `fastserve_response_stream` until
 * `fastserve_stream_end` or `fastserve_stream_abort` frees it. Use it from
 * one thread at a time.
 */
typedef struct fastserve_stream fastserve_stream;

/**
 * Called with the `userdata` given to `fastserve_response_stream`, on the
 * connection's worker thread, or, for the final
 * FASTSERVE_STREAM_CLOSED, possibly inside `fastserve_stream_end` or
 * `fastserve_stream_abort`. Calls for one stream never overlap. It may
 * call `fastserve_stream_write` (on WRITABLE) but must not block.
 */
typedef void (*fastserve_stream_event_fn)(void *userdata, enum fastserve_stream_event event);

/**
 * Sends the response's status and headers, and returns the handle
 * that writes its body. `length` is the body's length if known (sent
 * as `Content-Length`; the body must then be exactly that long), or -1:
 * the body is then chunked for HTTP/1.1 clients and ends with the
 * connection for HTTP/1.0 ones. A HEAD request gets the head only
 * (writes succeed and are dropped); a 204 or 304 has no body.
 *
 * Works on the handler's own `res` (the head goes out when the handler
 * returns; writes may start at once) and on a deferred handle, which
 * this call consumes whatever its result. Responses pipelined behind
 * the stream wait for its end.
 *
 * `on_event` may be NULL. If not, it is called with `userdata` as
 * `fastserve_stream_event_fn` says, and FASTSERVE_STREAM_CLOSED always
 * comes last, once; not at all when this call returns NULL.
 *
 * Returns NULL, and sets `fastserve_last_error`, if `res` is NULL or
 * was already sent, deferred or streamed, or `length` is below -1.
 *
 * # Safety
 * `res` is the response of the handler call running on this thread, or
 * a deferred handle not yet sent, used by one thread at a time;
 * `on_event` is NULL or callable as described with `userdata`.
 *
 * On an internal panic: returns NULL.
 */
struct fastserve_stream *fastserve_response_stream(struct fastserve_response *res,
                                                   int64_t length,
                                                   fastserve_stream_event_fn on_event,
                                                   void *userdata);

/**
 * Queues a copy of `data` as the next piece of the body. Returns
 * FASTSERVE_RESULT_WOULD_BLOCK, queuing nothing, while the bytes queued
 * and not yet sent reach the budget (the `max_unsent_bytes` limit; one
 * write may overshoot it); FASTSERVE_RESULT_CLOSED once the client has
 * gone; FASTSERVE_RESULT_INVALID_ARGUMENT past an announced length or for
 * a 204 or 304.
 *
 * # Safety
 * `s` is a live stream handle, used by one thread at a time; `data` is
 * NULL (with `len == 0`) or readable for `len` bytes during the call.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_stream_write(struct fastserve_stream *s,
                                             const char *data,
                                             size_t len);

/**
 * Adds a trailer field, sent after a chunked body (and dropped for a
 * body with a length). The rules of `fastserve_response_header` apply.
 *
 * # Safety
 * `s` is a live stream handle, used by one thread at a time; `name` and
 * `value` are readable for their lengths during the call.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_stream_trailer(struct fastserve_stream *s,
                                               const char *name,
                                               size_t name_len,
                                               const char *value,
                                               size_t value_len);

/**
 * Ends the body and frees the handle, whatever the result. Responses
 * pipelined behind the stream follow. Returns FASTSERVE_RESULT_CLOSED if
 * the client had gone, and FASTSERVE_RESULT_INVALID_ARGUMENT if fewer
 * bytes than the announced length were written: the body is then cut
 * off and the connection closed, so that the client sees the failure.
 *
 * # Safety
 * `s` is a live stream handle, used by one thread at a time, and not
 * used after this call.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_stream_end(struct fastserve_stream *s);

/**
 * Cuts the body off and frees the handle: the client sees an incomplete
 * response (no last chunk, or fewer bytes than announced) and the
 * connection closes. For a producer that failed half-way. NULL is
 * ignored.
 *
 * # Safety
 * `s` is NULL or a live stream handle, used by one thread at a time,
 * and not used after this call.
 *
 * On an internal panic: returns (the handle may leak).
 */
void fastserve_stream_abort(struct fastserve_stream *s);

/* ==========================================================================
 * Request bodies in pieces
 *
 * Request bodies in pieces: a route can take bodies larger than the
 * server's limit, and stream them to its handler as they arrive instead of
 * buffering them whole. The socket is not read while the handler has not
 * taken what it was given, and `100 Continue` goes out only when the
 * handler asks for the body.
 * ========================================================================== */

/**
 * Route body flag: call the handler as soon as the head is read, and pass
 * the body to it in pieces (`fastserve_response_read_body`).
 */
#define FASTSERVE_BODY_STREAM 1

/**
 * What a body callback receives.
 */
typedef enum fastserve_body_event {
  /**
   * `len` bytes of the body at `data`.
   */
  FASTSERVE_BODY_DATA = 0,
  /**
   * The body is complete. The last call.
   */
  FASTSERVE_BODY_END = 1,
  /**
   * The body will not complete: the client broke the framing, passed the
   * route's `max_body`, stalled past the body timeout, or left. The last
   * call.
   */
  FASTSERVE_BODY_ABORTED = 2,
} fastserve_body_event;

/**
 * Takes a request body piece by piece, on the connection's worker thread.
 * `data` is valid during the call only. Return 0 to go on, or non-zero to
 * pause reading until `fastserve_response_resume_body`. After
 * FASTSERVE_BODY_END or FASTSERVE_BODY_ABORTED it is not called again:
 * free `userdata` there. Must not block.
 */
typedef int (*fastserve_body_fn)(void *userdata,
                                 const char *data,
                                 size_t len,
                                 enum fastserve_body_event event);

/**
 * Sets how requests to the route registered with exactly this method
 * (NULL for a route of any method) and path take their bodies:
 * `max_body` bytes at most (0: the server's `max_body`; over it: 413),
 * and with `flags` FASTSERVE_BODY_STREAM, streamed to the handler. Works
 * for handler and batch routes. A streamed body is not read until the
 * handler calls `fastserve_response_read_body`; a handler that answers
 * without reading it gets the connection closed after its response.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `method` is NULL or readable for `method_len` bytes; `path` is
 * readable for `path_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_route_body(struct fastserve_server *srv,
                                                  const char *method,
                                                  size_t method_len,
                                                  const char *path,
                                                  size_t path_len,
                                                  size_t max_body,
                                                  uint32_t flags);

/**
 * Reads the request's body through `on_body`, for a route with
 * FASTSERVE_BODY_STREAM. On the handler's own `res` the body starts when
 * the handler returns; on a deferred handle, at once. Call it before
 * the response is sent, streamed or switched, once per request. On a
 * route that does not stream bodies, the handler's own `res` gets the
 * whole body (if any) and FASTSERVE_BODY_END when the handler returns,
 * and a deferred handle gets FASTSERVE_BODY_ABORTED.
 *
 * # Safety
 * `res` is the response of the handler call running on this thread, or
 * a deferred handle not yet sent, used by one thread at a time;
 * `on_body` is callable as `fastserve_body_fn` says with `userdata`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_response_read_body(struct fastserve_response *res,
                                                   fastserve_body_fn on_body,
                                                   void *userdata);

/**
 * Goes on reading the body after the body callback returned non-zero.
 * On a deferred handle not yet sent, from any thread; on the handler's
 * own `res`, during the handler call.
 *
 * # Safety
 * `res` is the response of the handler call running on this thread, or
 * a deferred handle not yet sent, used by one thread at a time.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_response_resume_body(struct fastserve_response *res);

/* ==========================================================================
 * Protocol switches
 *
 * Protocol switches: a handler accepts `Upgrade` (say, WebSocket) or a
 * `CONNECT`, and once its response and every earlier one are written the
 * library hands the socket, and any bytes it read past the request, to the
 * application and never touches it again.
 * ========================================================================== */

/**
 * Takes a connection after a protocol switch, on the connection's worker
 * thread. `fd` is the connected socket, non-blocking, now owned by the
 * callee (close it when done); `data` holds the `len` bytes the client sent
 * past the request, valid during the call. When the connection failed
 * before the switch was written, `fd` is -1 and `len` 0: free `userdata`.
 * Called exactly once. Must not block the worker: hand `fd` to another
 * thread or event loop.
 */
typedef void (*fastserve_upgrade_fn)(void *userdata, int fd, const char *data, size_t len);

/**
 * Accepts a protocol switch. `status` is 101, answering a request with
 * `Upgrade` (the headers set on `res` should name the protocol, as
 * `Upgrade: websocket`; the library adds `Connection: upgrade`), or a
 * 2xx answering a `CONNECT`. The response has no body. Requests the
 * client pipelined after this one are not served.
 *
 * Works on the handler's own `res` and on a deferred handle, which this
 * call consumes whatever its result. On success `on_upgrade` is called
 * exactly once, as `fastserve_upgrade_fn` says; not at all on failure.
 *
 * # Safety
 * `res` is the response of the handler call running on this thread, or
 * a deferred handle not yet sent, used by one thread at a time;
 * `on_upgrade` is callable as described with `userdata`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_response_upgrade(struct fastserve_response *res,
                                                 uint16_t status,
                                                 fastserve_upgrade_fn on_upgrade,
                                                 void *userdata);

/* ==========================================================================
 * Batch routes
 *
 * Batch routes hand every request for them that a worker read in one
 * pass of its event loop to one call, laid out flat in one block of
 * memory, and take the replies back as columns: cheap to cross into any
 * language. The sans-I/O connection (see "Sans-I/O connection") hands out its
 * requests in the same layout.
 * ========================================================================== */

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
 * The peer is a Unix socket (`peer_off`/`peer_len` give its path).
 */
#define FASTSERVE_BATCH_PEER_UNIX 8

/**
 * The body was not read (a route with FASTSERVE_BODY_STREAM): take the
 * request with `fastserve_server_response` and read it with
 * `fastserve_response_read_body`.
 */
#define FASTSERVE_BATCH_BODY_FOLLOWS 16

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
 * A batch handed to a batch handler; valid until the handler returns, on
 * the handler's thread.
 */
typedef struct fastserve_batch fastserve_batch;

/**
 * One request of a batch: 64 bytes, fixed layout. Every `*_off` is a byte
 * offset into the batch's data area (the `data` argument of the batch
 * handler, or `fastserve_conn_batch.data`); strings are not NUL-terminated.
 *
 * - method: `data + method_off`, `method_len` bytes;
 * - target (path, then `?` and the query when `flags & FASTSERVE_BATCH_QUERY`):
 *   `data + target_off`, `target_len` bytes; the path is its first
 *   `path_len` bytes, the query starts at `target_off + path_len + 1`.
 *   An absolute-form target (`http://host/p?q`) appears as its path and
 *   query (`/p?q`, `/` for an empty path); its authority is the value of
 *   the request's `Host` field;
 * - header fields: `header_count` `fastserve_batch_header`s at
 *   `data + headers_off` (4-byte aligned);
 * - body (Content-Length or decoded chunked): `data + body_off`, `body_len` bytes;
 * - peer: the client's IP address as text (`"192.0.2.7"`, `"2001:db8::1"`)
 *   at `data + peer_off`, `peer_len` bytes, and `peer_port`; with
 *   `FASTSERVE_BATCH_PEER_UNIX`, a Unix socket's path (empty when unnamed)
 *   and port 0. `peer_len` 0 and no flag: the peer is unknown (a
 *   `fastserve_conn` without `fastserve_conn_set_peer`).
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
  uint32_t peer_off;
  uint16_t peer_len;
  uint16_t peer_port;
} fastserve_batch_request;

/**
 * A batch handler: gets every request for the server's batch routes that one
 * worker read in one pass of its event loop, `count >= 1` of them, in the
 * array `reqs`, with their bytes in `data` (`data_len` bytes), which
 * directly follows the array: `data == (const char *)(reqs + count)`, so
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
                                   const char *data,
                                   size_t data_len,
                                   void *userdata);

/**
 * Told of deferred batch requests (status 0) whose answer nobody waits for
 * any more: `ids[0..count]`, valid during the call. Called on a worker
 * thread, possibly concurrently from several.
 */
typedef void (*fastserve_batch_cancel_fn)(void *userdata, const uint64_t *ids, size_t count);

/**
 * One header field of a batch request; offsets into the data area.
 */
typedef struct fastserve_batch_header {
  uint32_t name_off;
  uint32_t name_len;
  uint32_t value_off;
  uint32_t value_len;
} fastserve_batch_header;

/**
 * Adds a batch route: requests for it are collected and handed to the
 * batch handler (`fastserve_server_set_batch_handler`) together, tagged
 * with `tag`. `method`, `path` and `flags` as in
 * `fastserve_server_route`. A batch request carries its tag, not the
 * parameters: the host extracts them from the path with the route's
 * pattern (the engine chose the route; the Python package does this).
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `method` is NULL or readable for `method_len` bytes; `path` is
 * readable for `path_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_route_batch(struct fastserve_server *srv,
                                                   const char *method,
                                                   size_t method_len,
                                                   const char *path,
                                                   size_t path_len,
                                                   uint32_t flags,
                                                   uint32_t tag);

/**
 * Sets the handler of all batch routes; without one they answer 500.
 * `handler` is called with `userdata` on worker threads, possibly
 * concurrently, until `fastserve_server_free` returns.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `userdata` is usable from any thread.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
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
 * refused here). A reply with a bad status, content type or header line,
 * or a body for a 204 or 304, is answered 500. Everything is copied: the arrays may be freed at once. May
 * be called several times per batch; each call continues where the last
 * stopped. Returns `FASTSERVE_RESULT_INVALID_ARGUMENT` (and answers
 * nothing) when the lengths do not add up or there are more replies than
 * requests.
 *
 * # Safety
 * `batch` is the batch of the batch handler call running on this
 * thread; `status`, `body_lens` and (unless NULL) `header_lens` are
 * readable for `count` elements, `data` for `data_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_batch_respond(struct fastserve_batch *batch,
                                              const uint32_t *status,
                                              const uint32_t *header_lens,
                                              const uint32_t *body_lens,
                                              size_t count,
                                              const char *data,
                                              size_t data_len);

/**
 * Answers the next `count` requests of the batch with the same status
 * word (status | `FASTSERVE_CT_*` << 16) and the bodies in `data`,
 * separated by single NUL bytes (`count - 1` of them). The common case
 * of handlers that return text, in one call with nothing to measure.
 * Copied; returns `FASTSERVE_RESULT_INVALID_ARGUMENT` (and answers
 * nothing) when the count of separators is wrong or there are more
 * replies than requests.
 *
 * # Safety
 * `batch` is the batch of the batch handler call running on this
 * thread; `data` is readable for `data_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_batch_respond_text(struct fastserve_batch *batch,
                                                   uint32_t status,
                                                   size_t count,
                                                   const char *data,
                                                   size_t data_len);

/**
 * Answers the next `count` requests of the batch with the same status
 * word (status | `FASTSERVE_CT_*` << 16) and the same body, `body_len`
 * bytes at `body` (any bytes, NUL included): handlers that all gave one
 * answer, with nothing to join. Copied; returns
 * `FASTSERVE_RESULT_INVALID_ARGUMENT` (and answers nothing) when there
 * are more replies than requests.
 *
 * # Safety
 * `batch` is the batch of the batch handler call running on this
 * thread; `body` is readable for `body_len` bytes (NULL when 0).
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_batch_respond_same(struct fastserve_batch *batch,
                                                   uint32_t status,
                                                   size_t count,
                                                   const char *body,
                                                   size_t body_len);

/**
 * Answers deferred batch requests (those given status 0) by id, from
 * any thread, at any time while the server runs. `ids` holds `count`
 * ids; the other arguments are the columns of `fastserve_batch_respond`
 * (status 0 is not allowed here: it answers 500). Everything is copied.
 * Each reply goes to its worker, which sends it in request order.
 * `*unknown` (if not NULL) receives the number of ids that were not
 * pending (answered already, or never issued); their replies are
 * dropped.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `ids`, `status`, `body_lens` and (unless NULL) `header_lens` are
 * readable for `count` elements, `data` for `data_len` bytes;
 * `unknown` is NULL or writable.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_complete(const struct fastserve_server *srv,
                                                const uint64_t *ids,
                                                const uint32_t *status,
                                                const uint32_t *header_lens,
                                                const uint32_t *body_lens,
                                                size_t count,
                                                const char *data,
                                                size_t data_len,
                                                size_t *unknown);

/**
 * Takes a batch request that was deferred (status 0) as a deferred
 * response handle: fill and send it, stream it, switch protocols, or
 * read its streamed body, like a deferred handler's response, from any
 * thread. Its id is then no longer known to `fastserve_server_complete`.
 * Returns NULL, and sets `fastserve_last_error`, for an unknown id
 * (answered already, or its worker is gone) or a server not running.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed.
 *
 * On an internal panic: returns NULL.
 */
struct fastserve_response *fastserve_server_response(const struct fastserve_server *srv,
                                                     uint64_t id);

/**
 * Sets a response's status and header fields the way a batch reply
 * gives them: `status` is a status word (the status, with a
 * `FASTSERVE_CT_*` code in the high 16 bits; a status of 0 leaves it
 * as it is) and `headers` complete `Name: value\r\n` lines. For
 * answering a request taken with `fastserve_server_response` from a
 * host that already holds its reply in that form.
 *
 * # Safety
 * `res` is the response of the handler call running on this thread, or
 * a deferred handle not yet sent, used by one thread at a time;
 * `headers` is NULL (with length 0) or readable for `headers_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_response_head(struct fastserve_response *res,
                                              uint32_t status,
                                              const char *headers,
                                              size_t headers_len);

/**
 * Sets who is told when deferred batch requests lose their reader: the
 * request timeout answered them 503, or their client left. Stop their
 * work; answering them later (`fastserve_server_complete`) is a harmless
 * no-op, counted as unknown. `cancel` is called with `userdata` on
 * worker threads until `fastserve_server_free` returns.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `userdata` is usable from any thread.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_set_batch_cancel(struct fastserve_server *srv,
                                                        fastserve_batch_cancel_fn cancel,
                                                        void *userdata);

/* ==========================================================================
 * Access log, error hook and metrics
 *
 * What a server tells about itself: an access log, an error hook and
 * metrics. Each is set before the server starts.
 *
 * - The access log gets every request once its response was written in
 *   full (or its connection closed first), in batches: each worker calls it
 *   once per pass of its event loop with the requests it finished in that
 *   pass, on the worker's thread.
 * - The error hook is called when a handler fails, or the engine answers
 *   an error itself (a limit, a timeout, malformed input), or drops a
 *   connection (the client stopped reading, `max_connections`).
 * - Metrics: the counters of `fastserve_stats`, responses by status and a
 *   request latency histogram, read with `fastserve_server_metrics` or
 *   served in Prometheus text on a route (`fastserve_server_route_metrics`).
 *
 * ```c
 * static void log_cb(const fastserve_access_record *r, size_t n, void *ud) {
 *     for (size_t i = 0; i < n; i++)
 *         fprintf(ud, "%.*s %.*s %u %llu\n", (int)r[i].method_len, r[i].method,
 *                 (int)r[i].target_len, r[i].target, r[i].status,
 *                 (unsigned long long)r[i].bytes_out);
 * }
 * fastserve_server_set_access_log(srv, log_cb, stderr);
 * fastserve_server_route_metrics(srv, "/metrics", 8);
 * ```
 * ========================================================================== */

/**
 * The layout version `fastserve_server_metrics` writes.
 */
#define FASTSERVE_METRICS_VERSION 1

/**
 * Why the error hook was called.
 */
typedef enum fastserve_error_reason {
  /**
   * A handler returned non-zero: answered 500 unless it had answered.
   */
  FASTSERVE_ERROR_HANDLER_FAILED = 0,
  /**
   * A handler panicked (Rust handlers): answered 500.
   */
  FASTSERVE_ERROR_HANDLER_PANICKED = 1,
  /**
   * Malformed request or body framing: 400.
   */
  FASTSERVE_ERROR_BAD_REQUEST = 2,
  /**
   * The request line passed `max_request_line`: 414.
   */
  FASTSERVE_ERROR_URI_TOO_LONG = 3,
  /**
   * The head passed `max_header_bytes` or `max_headers`: 431.
   */
  FASTSERVE_ERROR_HEAD_TOO_LARGE = 4,
  /**
   * The body passed `max_body` (or the route's): 413.
   */
  FASTSERVE_ERROR_BODY_TOO_LARGE = 5,
  /**
   * An HTTP version (505) or transfer coding (501) not supported.
   */
  FASTSERVE_ERROR_NOT_SUPPORTED = 6,
  /**
   * The head did not arrive within the header timeout: 408.
   */
  FASTSERVE_ERROR_HEADER_TIMEOUT = 7,
  /**
   * The body stalled past the body timeout: 408.
   */
  FASTSERVE_ERROR_BODY_TIMEOUT = 8,
  /**
   * A deferred response took longer than the request timeout: 503.
   */
  FASTSERVE_ERROR_REQUEST_TIMEOUT = 9,
  /**
   * The client read nothing within the write timeout: connection closed.
   */
  FASTSERVE_ERROR_WRITE_TIMEOUT = 10,
  /**
   * `max_connections` were open: the new connection was closed at once.
   */
  FASTSERVE_ERROR_CONNECTION_LIMIT = 11,
} fastserve_error_reason;

/**
 * One request in the access log. Every pointer is valid during the
 * callback only; strings are not NUL-terminated.
 */
typedef struct fastserve_access_record {
  /**
   * Empty when the request head could not be parsed (a 400, 414 or 431
   * answer, or a 408 for a head that never completed).
   */
  const char *method;
  size_t method_len;
  /**
   * The request target as sent (at most 8 KiB of it).
   */
  const char *target;
  size_t target_len;
  /**
   * The request's HTTP/1.x minor version (0 when the head was not
   * parsed).
   */
  uint8_t minor_version;
  /**
   * The `Referer` and `User-Agent` fields, empty when absent.
   */
  const char *referer;
  size_t referer_len;
  const char *user_agent;
  size_t user_agent_len;
  /**
   * The client's IP address as text.
   */
  const char *peer;
  size_t peer_len;
  uint16_t peer_port;
  /**
   * The response's status; 0 when none was sent (the connection
   * closed while a deferred response was pending).
   */
  uint16_t status;
  /**
   * False when the connection closed before the response was written
   * in full (then `bytes_out` counts what was).
   */
  bool complete;
  /**
   * The request head plus the body bytes read (decoded, when chunked).
   */
  uint64_t bytes_in;
  /**
   * The response bytes written: status line, header, body (and a
   * `100 Continue` sent for it).
   */
  uint64_t bytes_out;
  /**
   * From the event-loop pass in which the head was parsed (the clock is
   * read once per pass, after the poll) to the write of the response's
   * last byte, in microseconds.
   */
  uint64_t duration_us;
  /**
   * When that pass began, in microseconds since the Unix epoch.
   */
  uint64_t time_us;
} fastserve_access_record;

/**
 * The access log callback: `count` records at `records`, valid until it
 * returns. Runs on a worker thread (several at once with several
 * workers), once per pass of that worker's event loop that finished
 * requests; it must not block for long: copy what it keeps.
 */
typedef void (*fastserve_access_log_fn)(const struct fastserve_access_record *records,
                                        size_t count,
                                        void *userdata);

/**
 * One error. Valid during the hook's call only.
 */
typedef struct fastserve_error_event {
  enum fastserve_error_reason reason;
  /**
   * The status answered; 0 when the connection was closed without one.
   */
  uint16_t status;
  uint16_t peer_port;
  /**
   * The client's IP address as text, not NUL-terminated.
   */
  const char *peer;
  size_t peer_len;
  /**
   * A short description of the reason, NUL-terminated, static.
   */
  const char *text;
} fastserve_error_event;

/**
 * The error hook. Runs on the worker thread where the error happened, at
 * once; it must not block for long.
 */
typedef void (*fastserve_error_fn)(const struct fastserve_error_event *event, void *userdata);

/**
 * Metrics, summed over workers. Set `size` to `sizeof(fastserve_metrics)`
 * before the call: a later library with a larger struct fills only the
 * fields the caller knows; an older one sets `size` to what it wrote.
 */
typedef struct fastserve_metrics {
  /**
   * In: the struct's size as the caller knows it. Out: bytes written.
   */
  uint32_t size;
  /**
   * Out: `FASTSERVE_METRICS_VERSION` of the library.
   */
  uint32_t version;
  /**
   * As in `fastserve_stats`.
   */
  uint64_t requests;
  uint64_t bytes_in;
  uint64_t bytes_out;
  uint64_t open_connections;
  uint64_t accepted_connections;
  /**
   * The latency histogram's upper bounds in microseconds, and the
   * requests per bucket (not cumulative): bucket i holds requests that
   * took at most `latency_bounds_us[i]` and more than the bound before;
   * bucket 16 the rest. Kept only with metrics enabled.
   */
  uint64_t latency_bounds_us[16];
  uint64_t latency_buckets[17];
  uint64_t latency_sum_us;
  /**
   * Responses per status class: [0] none sent, [1] 1xx ... [5] 5xx.
   */
  uint64_t status_classes[6];
  /**
   * Responses of each status in `status_codes` (common ones).
   */
  uint16_t status_codes[20];
  uint64_t status_counts[20];
  /**
   * Errors per `fastserve_error_reason` (index = its value); counted
   * whether or not a hook is set.
   */
  uint64_t errors[16];
} fastserve_metrics;

/**
 * Sets the access log callback (NULL removes it), called with
 * `userdata` on worker threads until `fastserve_server_free` returns;
 * see `fastserve_access_log_fn`. Before `start`, else
 * `FASTSERVE_RESULT_ALREADY_STARTED`. Enables the metrics' status
 * counts and latency histogram too (they come from the same records).
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `userdata` is usable from any thread.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_set_access_log(struct fastserve_server *srv,
                                                      fastserve_access_log_fn callback,
                                                      void *userdata);

/**
 * Sets the error hook (NULL removes it), called with `userdata` on
 * worker threads until `fastserve_server_free` returns; see
 * `fastserve_error_fn`. Before `start`, else
 * `FASTSERVE_RESULT_ALREADY_STARTED`.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `userdata` is usable from any thread.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_set_error_hook(struct fastserve_server *srv,
                                                      fastserve_error_fn callback,
                                                      void *userdata);

/**
 * Keeps the status counts and the latency histogram of
 * `fastserve_metrics` (the other counters are always kept). It costs
 * a little per request, as an access log does. Before `start`.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_enable_metrics(struct fastserve_server *srv);

/**
 * Adds a GET (and HEAD) route at the exact `path` that answers the
 * metrics in the Prometheus text format (version 0.0.4), and enables
 * them as `fastserve_server_enable_metrics` does. Names:
 * `fastserve_requests_total`, `fastserve_received_bytes_total`,
 * `fastserve_sent_bytes_total`, `fastserve_open_connections`,
 * `fastserve_accepted_connections_total`, `fastserve_responses_total`
 * by `class`, `fastserve_responses_by_code_total` by `code`,
 * `fastserve_request_duration_seconds` (a histogram), and
 * `fastserve_errors_total` by `reason`. Before `start`.
 *
 * # Safety
 * `srv` is a server from `fastserve_server_new` that was not freed;
 * `path` is readable for `path_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_route_metrics(struct fastserve_server *srv,
                                                     const char *path,
                                                     size_t path_len);

/**
 * Writes the metrics to `*out`, whose `size` the caller set to
 * `sizeof(fastserve_metrics)` (at least 8: `size` and `version`). Any
 * thread, any time; zeros before `start`. A `size` under 8 is
 * `FASTSERVE_RESULT_INVALID_ARGUMENT`.
 *
 * # Safety
 * `srv` is NULL or a server from `fastserve_server_new` that was not
 * freed; `out` is NULL or writable for `out->size` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_server_metrics(const struct fastserve_server *srv,
                                               struct fastserve_metrics *out);

/* ==========================================================================
 * Sans-I/O connection
 *
 * One HTTP/1.1 server connection without I/O, for programs that run
 * their own event loop (libuv, uvloop, Node, a game loop). The program
 * reads from its socket and feeds the bytes in; it gets the parsed
 * requests back as a batch (the flat layout of the batch routes); it
 * answers them, now or later, in any order; it takes the pending output
 * as iovecs, writes them, and reports how much was written. The loop, for
 * each readable or writable socket:
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
 * ========================================================================== */

/**
 * `fastserve_conn_state`: part of a request head is buffered (the header
 * timeout runs from its first byte).
 */
#define FASTSERVE_CONN_READING_HEAD 1

/**
 * A request body is being received (the body timeout runs from the last
 * byte read).
 */
#define FASTSERVE_CONN_READING_BODY 2

/**
 * Requests were handed out and are not answered yet (the request timeout).
 */
#define FASTSERVE_CONN_PENDING 4

/**
 * Output is waiting to be written (the write timeout).
 */
#define FASTSERVE_CONN_UNSENT 8

/**
 * Nothing is owed either way: between requests (the keep-alive timeout).
 */
#define FASTSERVE_CONN_IDLE 16

/**
 * A sans-I/O HTTP/1.1 server connection: it parses, frames, orders and
 * renders; the program does every read, write and close. Owned by the
 * caller, from `fastserve_conn_new` to `fastserve_conn_free`. Not
 * thread-safe: use each one from one thread at a time (different
 * connections may be used on different threads).
 */
typedef struct fastserve_conn fastserve_conn;

/**
 * The requests parsed by one `fastserve_conn_feed`: `count` records in
 * `requests` (see `fastserve_batch_request`) and their bytes in `data`,
 * which directly follows the records (`data == (const char *)(requests +
 * count)`).
 * Valid until the next `fastserve_conn_feed`, `fastserve_conn_feed_eof` or
 * `fastserve_conn_free` on the same connection, whatever was answered.
 */
typedef struct fastserve_conn_batch {
  const struct fastserve_batch_request *requests;
  size_t count;
  const char *data;
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
 * Creates a connection with the limits and `Server` name of `cfg`
 * (copied; NULL means the defaults). The caller owns it: free it with
 * `fastserve_conn_free`.
 *
 * # Safety
 * `cfg` is NULL or a configuration from `fastserve_config_new` that was
 * not freed.
 *
 * On an internal panic: returns NULL.
 */
struct fastserve_conn *fastserve_conn_new(const struct fastserve_config *cfg);

/**
 * Frees a connection and every buffer it holds; batches and output it
 * handed out become invalid. NULL does nothing.
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed; it must not be used afterwards.
 *
 * On an internal panic: returns, and the connection may leak.
 */
void fastserve_conn_free(struct fastserve_conn *c);

/**
 * Sets the peer's address, which every request read from now on
 * carries (`peer_*` of `fastserve_batch_request`): what `accept(2)` or
 * getpeername(2) gave, an AF_INET, AF_INET6 or AF_UNIX address of
 * `len` bytes (copied). NULL clears it. Another family or a short
 * address returns `FASTSERVE_RESULT_INVALID_ARGUMENT` and changes
 * nothing.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed;
 * `addr` is NULL or readable for `len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_set_peer(struct fastserve_conn *c,
                                              const struct sockaddr *addr,
                                              socklen_t len);

/**
 * Feeds `len` bytes received from the peer (copied), parses every
 * complete request buffered, and writes the batch of new requests to
 * `*out` (if not NULL; see `fastserve_conn_batch` for how long it stays
 * valid). `len == 0` only parses: call it so after writing output, to
 * pick up pipelined requests that were held back by the pipelining
 * limit.
 *
 * Malformed input queues an error response (400, 413, 414, 431, 501,
 * 505) and the connection then closes: keep writing the output until
 * `fastserve_conn_should_close`. Bytes fed while
 * `fastserve_conn_wants_read` is false are kept and parsed later.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed;
 * `data` is NULL (with `len == 0`) or readable for `len` bytes; `out`
 * is NULL or writable.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_feed(struct fastserve_conn *c,
                                          const char *data,
                                          size_t len,
                                          struct fastserve_conn_batch *out);

/**
 * The peer closed its sending side. Requests already complete are
 * still answered; `*out` as in `fastserve_conn_feed`.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed;
 * `out` is NULL or writable.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_feed_eof(struct fastserve_conn *c,
                                              struct fastserve_conn_batch *out);

/**
 * Answers request `id` (from its `fastserve_batch_request`), at any
 * time and in any order: responses still leave in request order.
 * `headers` holds zero or more complete `Name: value\r\n` lines
 * (include `Content-Type` there); `Date`, `Content-Length`, `Server`
 * and `Connection` are added by the engine and refused in `headers`.
 * Status 200..999; 204 and 304 have no body. Everything is copied. A
 * refused status, header line or body answers 500 instead and returns
 * `FASTSERVE_RESULT_INVALID_ARGUMENT`; an id that is not waiting for an
 * answer returns `FASTSERVE_RESULT_INVALID_ARGUMENT` and changes
 * nothing.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed;
 * `headers` and `body` are NULL (with length 0) or readable for their
 * lengths.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_respond(struct fastserve_conn *c,
                                             uint64_t id,
                                             uint16_t status,
                                             const char *headers,
                                             size_t headers_len,
                                             const char *body,
                                             size_t body_len);

/**
 * Answers `count` requests in one call: `ids[i]` gets reply `i`, given
 * as the columns of `fastserve_batch_respond` (a `FASTSERVE_CT_*` code
 * in the status word's high 16 bits). A reply with status 0 (and no
 * bytes) leaves its request unanswered, for later. Ids that are not
 * waiting are skipped; `*unknown` (if not NULL) receives how many.
 * `FASTSERVE_RESULT_INVALID_ARGUMENT` (nothing answered) when the
 * lengths do not add up.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed;
 * `ids`, `status`, `body_lens` and (unless NULL) `header_lens` are
 * readable for `count` elements, `data` for `data_len` bytes;
 * `unknown` is NULL or writable.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_respond_batch(struct fastserve_conn *c,
                                                   const uint64_t *ids,
                                                   const uint32_t *status,
                                                   const uint32_t *header_lens,
                                                   const uint32_t *body_lens,
                                                   size_t count,
                                                   const char *data,
                                                   size_t data_len,
                                                   size_t *unknown);

/**
 * Fills up to `max` iovecs with the output ready to send, in order,
 * and returns how many it filled (0: nothing to send, or `c` NULL).
 * The memory they point to is valid until the next call other than
 * `fastserve_conn_output`, `fastserve_conn_unsent`,
 * `fastserve_conn_wants_read` or `fastserve_conn_should_close` on this
 * connection. After writing, report the bytes written with
 * `fastserve_conn_written`.
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed; `iov` is NULL or writable for `max` entries.
 *
 * On an internal panic: returns 0.
 */
size_t fastserve_conn_output(const struct fastserve_conn *c,
                             struct fastserve_iovec *iov,
                             size_t max);

/**
 * Bytes of output waiting to be sent (0 for NULL).
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed.
 *
 * On an internal panic: returns 0.
 */
size_t fastserve_conn_unsent(const struct fastserve_conn *c);

/**
 * Records that the first `n` bytes of the output were sent. `n` larger
 * than `fastserve_conn_unsent` is refused
 * (`FASTSERVE_RESULT_INVALID_ARGUMENT`).
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_written(struct fastserve_conn *c, size_t n);

/**
 * Whether to read from the peer now. False under backpressure (too
 * many unanswered or unsent responses: write first, then feed 0
 * bytes), once no more requests will be read, and for NULL.
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed.
 *
 * On an internal panic: returns false.
 */
bool fastserve_conn_wants_read(const struct fastserve_conn *c);

/**
 * True once the connection should be closed: no more requests will be
 * served (`Connection: close`, HTTP/1.0, an error, or EOF) and every
 * response owed has been written. NULL gives true.
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed.
 *
 * On an internal panic: returns true.
 */
bool fastserve_conn_should_close(const struct fastserve_conn *c);

/**
 * Requests handed out and not answered yet (0 for NULL).
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed.
 *
 * On an internal panic: returns 0.
 */
size_t fastserve_conn_pending(const struct fastserve_conn *c);

/**
 * Stops reading new requests (graceful shutdown): requests already
 * handed out are still answered, and so is a request partly received
 * (or, on a connection that has sent nothing yet, its first one); the
 * last response says `Connection: close` unless it was already queued.
 * Then `fastserve_conn_should_close` turns true.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_shutdown(struct fastserve_conn *c);

/**
 * What the connection waits for, as `FASTSERVE_CONN_*` bits: a host
 * runs the timeouts of `fastserve_config` with its own timers from
 * them, as the server's workers do. When a header or body timeout
 * passes, call `fastserve_conn_abort(c, 408)`; a request timeout,
 * `fastserve_conn_expire(c, 503, &id)`; a write or keep-alive timeout,
 * close the socket. 0 for NULL.
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed.
 *
 * On an internal panic: returns 0.
 */
uint32_t fastserve_conn_state(const struct fastserve_conn *c);

/**
 * Answers the request being received (a head or body still
 * incomplete) with `status`, 400..599 (408 for a timeout), and closes
 * after it; does nothing when no request is partly received or a
 * response to it has begun.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_abort(struct fastserve_conn *c, uint16_t status);

/**
 * Answers the oldest request still waiting for an answer with
 * `status`, 400..599 (503 for a request timeout), and writes its id to
 * `*id` (if not NULL); a later answer to that id is refused as for any
 * answered request. Returns false (and changes nothing) when no request
 * is waiting, or for a NULL `c` or a bad status.
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed; `id` is NULL or writable.
 *
 * On an internal panic: returns false.
 */
bool fastserve_conn_expire(struct fastserve_conn *c, uint16_t status, uint64_t *id);

/* ==========================================================================
 * Sans-I/O streams and protocol switches
 *
 * Streamed responses and protocol switches on a sans-I/O connection. The
 * program bounds what a stream queues itself, with
 * `fastserve_conn_unsent`; request bodies always arrive whole here.
 * ========================================================================== */

/**
 * Answers request `id` with a streamed response: the status and
 * `headers` (as for `fastserve_conn_respond`) now, the body with
 * `fastserve_conn_stream_write`, then `fastserve_conn_stream_end`.
 * `length` is the body's length (sent as `Content-Length`), or -1:
 * chunked for HTTP/1.1, ended by the connection's close for HTTP/1.0.
 * Responses to later requests wait for the end. An id that is not
 * waiting, a bad status or bad header lines return
 * `FASTSERVE_RESULT_INVALID_ARGUMENT` and change nothing.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed;
 * `headers` is NULL (with length 0) or readable for `headers_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_stream_start(struct fastserve_conn *c,
                                                  uint64_t id,
                                                  uint16_t status,
                                                  const char *headers,
                                                  size_t headers_len,
                                                  int64_t length);

/**
 * Appends a copy of `data` to the body of streamed response `id`.
 * Nothing bounds what is queued but the program: watch
 * `fastserve_conn_unsent`. `FASTSERVE_RESULT_INVALID_ARGUMENT` for an id
 * not streaming, past the announced length, or for a 204 or 304.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed;
 * `data` is NULL (with `len == 0`) or readable for `len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_stream_write(struct fastserve_conn *c,
                                                  uint64_t id,
                                                  const char *data,
                                                  size_t len);

/**
 * Ends streamed response `id`. `trailers` (complete `Name: value\r\n`
 * lines, or NULL) follow a chunked body. Fewer bytes than announced
 * return `FASTSERVE_RESULT_INVALID_ARGUMENT` and close the connection
 * after what was written, so that the client sees the cut; `abort`
 * non-zero does so on purpose.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed;
 * `trailers` is NULL (with length 0) or readable for `trailers_len`
 * bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_stream_end(struct fastserve_conn *c,
                                                uint64_t id,
                                                const char *trailers,
                                                size_t trailers_len,
                                                bool abort);

/**
 * Answers request `id` with a protocol switch: `status` 101 (the
 * library adds `Connection: upgrade`; name the protocol in `headers`,
 * as `Upgrade: websocket\r\n`) or a 2xx to a `CONNECT`, with no body.
 * No later request is served. Once `fastserve_conn_upgraded` says so,
 * write nothing more from the connection: the socket belongs to the new
 * protocol, starting with the bytes `fastserve_conn_upgrade_rest` gives.
 *
 * # Safety
 * `c` is a connection from `fastserve_conn_new` that was not freed;
 * `headers` is NULL (with length 0) or readable for `headers_len` bytes.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_conn_upgrade(struct fastserve_conn *c,
                                             uint64_t id,
                                             uint16_t status,
                                             const char *headers,
                                             size_t headers_len);

/**
 * Whether a protocol switch was accepted and every response before and
 * including it is written: the socket now belongs to the new protocol.
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed.
 *
 * On an internal panic: returns false.
 */
bool fastserve_conn_upgraded(const struct fastserve_conn *c);

/**
 * Copies up to `cap` of the bytes received past the request that
 * switched protocols (the new protocol's first bytes) to `buf`, and
 * returns how many there are in all: call it with `cap` 0 for the size.
 *
 * # Safety
 * `c` is NULL or a connection from `fastserve_conn_new` that was not
 * freed; `buf` is NULL (with `cap == 0`) or writable for `cap` bytes.
 *
 * On an internal panic: returns 0.
 */
size_t fastserve_conn_upgrade_rest(const struct fastserve_conn *c, char *buf, size_t cap);

/* ==========================================================================
 * Parser
 *
 * The parser on its own: request heads, response heads, header sections
 * and chunked bodies, from the caller's buffer without copying or
 * allocating. `FASTSERVE_PARSE_STRICT` follows RFC 9112, as the server
 * does; `FASTSERVE_PARSE_PICO` accepts what picohttpparser accepts. Every
 * call is thread-safe; a chunked decoder is used by one thread at a time.
 *
 * ```c
 * fastserve_request_line line;
 * fastserve_header headers[64];
 * size_t n = 64, head_len;
 * fastserve_result r = fastserve_parse_request(buf, len, FASTSERVE_PARSE_STRICT,
 *                                              &line, headers, &n, &head_len);
 * ```
 * ========================================================================== */

/**
 * Parser strictness, for the `mode` argument of the parse calls.
 */
typedef enum fastserve_parse_mode {
  /**
   * RFC 9112 grammar: CRLF line ends, single SP separators, no obs-fold,
   * no control bytes, token methods, `HTTP/d.d` versions.
   */
  FASTSERVE_PARSE_STRICT = 0,
  /**
   * picohttpparser's acceptance: bare LF, runs of SP, continuation lines.
   */
  FASTSERVE_PARSE_PICO = 1,
} fastserve_parse_mode;

/**
 * State of a chunked-body decoder, one per body. Owned by the caller, from
 * `fastserve_chunked_decoder_new` to `fastserve_chunked_decoder_free`. Not
 * thread-safe: use each decoder from one thread at a time.
 */
typedef struct fastserve_chunked_decoder fastserve_chunked_decoder;

/**
 * A parsed request line. Pointers point into the input buffer.
 */
typedef struct fastserve_request_line {
  const char *method;
  size_t method_len;
  const char *path;
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
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} fastserve_header;

/**
 * A parsed status line. `reason` points into the input buffer.
 */
typedef struct fastserve_status_line {
  int32_t minor_version;
  int32_t status;
  const char *reason;
  size_t reason_len;
} fastserve_status_line;

/**
 * Parses an HTTP/1.x request head (request line and header fields,
 * through the empty line) from the `len` bytes at `buf`.
 *
 * `mode` is a `fastserve_parse_mode`. `headers` is an array of
 * `*num_headers` entries; on return `*num_headers` holds the number
 * filled. On `FASTSERVE_RESULT_OK`, `*consumed` is the length of the
 * head; the body, if any, starts at `buf + *consumed`.
 * `FASTSERVE_RESULT_PARTIAL` means the head is incomplete: call again
 * with more bytes (from the start of the head). Any other code is a
 * parse error.
 *
 * Every pointer written to `line` and `headers` points into `buf`.
 * No allocation.
 *
 * # Safety
 * `buf` is NULL (with `len == 0`) or readable for `len` bytes; `line`,
 * `num_headers` and `consumed` are writable; `headers` is writable for
 * `*num_headers` entries (NULL if that is 0).
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_parse_request(const char *buf,
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
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_parse_response(const char *buf,
                                               size_t len,
                                               uint32_t mode,
                                               struct fastserve_status_line *line,
                                               struct fastserve_header *headers,
                                               size_t *num_headers,
                                               size_t *consumed);

/**
 * Parses header fields through the terminating empty line (for
 * trailers, or heads whose first line was parsed elsewhere). Arguments
 * as `fastserve_parse_request`.
 *
 * # Safety
 * As `fastserve_parse_request`.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_parse_headers(const char *buf,
                                              size_t len,
                                              uint32_t mode,
                                              struct fastserve_header *headers,
                                              size_t *num_headers,
                                              size_t *consumed);

/**
 * Creates a chunked decoder. `mode` is a `fastserve_parse_mode`; with
 * `consume_trailer` true the trailer section is read and dropped too.
 * In strict mode trailer fields must be valid header fields (a token
 * name and a colon, no obs-fold, no control bytes) and the section
 * may hold 8 KiB (`fastserve_chunked_decoder_set_max_trailer`); the
 * picohttpparser mode takes trailer lines as picohttpparser does.
 * Returns NULL, and sets `fastserve_last_error`, for an unknown mode.
 * The caller owns the decoder: free it with
 * `fastserve_chunked_decoder_free`.
 *
 * On an internal panic: returns NULL.
 */
struct fastserve_chunked_decoder *fastserve_chunked_decoder_new(uint32_t mode,
                                                                bool consume_trailer);

/**
 * Frees a decoder. NULL does nothing.
 *
 * # Safety
 * `dec` is NULL or a decoder from `fastserve_chunked_decoder_new` that
 * was not freed; it must not be used afterwards.
 *
 * On an internal panic: returns, and the decoder may leak.
 */
void fastserve_chunked_decoder_free(struct fastserve_chunked_decoder *dec);

/**
 * Decodes the next piece of a chunked body in place.
 *
 * On entry `*len` is the number of bytes at `buf`. On return the first
 * `*len` bytes of `buf` are body data decoded by this call.
 * `FASTSERVE_RESULT_PARTIAL` means the body continues: feed the next
 * bytes in a new call. `FASTSERVE_RESULT_OK` means the body ended;
 * `*rest` bytes that followed it were moved to `buf + *len`. Other
 * codes are framing errors.
 *
 * # Safety
 * `dec` is a decoder from `fastserve_chunked_decoder_new` that was not
 * freed; `buf` is NULL (with `*len == 0`) or writable for `*len` bytes;
 * `len` and `rest` are writable.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_chunked_decode(struct fastserve_chunked_decoder *dec,
                                               char *buf,
                                               size_t *len,
                                               size_t *rest);

/**
 * Sets the largest trailer section a strict decoder takes, in bytes
 * (default 8 KiB); past it `fastserve_chunked_decode` returns
 * `FASTSERVE_RESULT_TRAILER_TOO_LARGE`. No effect in picohttpparser mode.
 *
 * # Safety
 * `dec` is NULL or a decoder from `fastserve_chunked_decoder_new` that
 * was not freed.
 *
 * On an internal panic: returns FASTSERVE_RESULT_PANIC.
 */
enum fastserve_result fastserve_chunked_decoder_set_max_trailer(struct fastserve_chunked_decoder *dec,
                                                                size_t bytes);

/* ==========================================================================
 * picohttpparser compatibility
 *
 * libfastserve also exports picohttpparser's API (`phr_parse_request`,
 * `phr_parse_response`, `phr_parse_headers`, `phr_decode_chunked`,
 * `phr_decode_chunked_is_in_data`), declared in picohttpparser.h rather
 * than here: same names, prototypes, struct layouts, return codes and
 * acceptance as upstream, so that a program written for picohttpparser
 * relinks against libfastserve unchanged. `struct phr_header` has the
 * layout of `fastserve_header`. After an internal panic they return -1
 * (`phr_decode_chunked_is_in_data`: 0); they never touch
 * `fastserve_last_error`.
 * ========================================================================== */

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* FASTSERVE_H */
