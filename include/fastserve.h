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
} fastserve_result;

/**
 * State of a chunked-body decoder. Opaque; one per body. Not thread-safe:
 * use one decoder from one thread at a time.
 */
typedef struct fastserve_chunked_decoder fastserve_chunked_decoder;

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

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * A static, NUL-terminated description of a result code. Never NULL; unknown
 * codes give "unknown result code". The string lives for the whole program.
 */
const char *fastserve_result_str(int32_t code);

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

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* FASTSERVE_H */
