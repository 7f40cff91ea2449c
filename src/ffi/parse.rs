//! The parser on its own: request heads, response heads, header sections
//! and chunked bodies, from the caller's buffer without copying or
//! allocating. `FASTSERVE_PARSE_STRICT` follows RFC 9112, as the server
//! does; `FASTSERVE_PARSE_PICO` accepts what picohttpparser accepts. Every
//! call is thread-safe; a chunked decoder is used by one thread at a time.
//!
//! ```c
//! fastserve_request_line line;
//! fastserve_header headers[64];
//! size_t n = 64, head_len;
//! fastserve_result r = fastserve_parse_request(buf, len, FASTSERVE_PARSE_STRICT,
//!                                              &line, headers, &n, &head_len);
//! ```

use core::ffi::c_char;
use core::mem::MaybeUninit;

use super::error::{invalid, note, null, null_with_len};
use super::fastserve_result::{self, *};
use super::{bytes, bytes_mut};
use crate::parse::{
    raw, ChunkedDecoder, Fail, Header, Kernel, Mode, PResult, RequestOut, ResponseOut,
};

/// Parser strictness, for the `mode` argument of the parse calls.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fastserve_parse_mode {
    /// RFC 9112 grammar: CRLF line ends, single SP separators, no obs-fold,
    /// no control bytes, token methods, `HTTP/d.d` versions.
    FASTSERVE_PARSE_STRICT = 0,
    /// picohttpparser's acceptance: bare LF, runs of SP, continuation lines.
    FASTSERVE_PARSE_PICO = 1,
}

/// One header field. `name`/`value` point into the caller's input buffer and
/// are valid as long as it is. Not NUL-terminated. A continuation line (pico
/// mode only) has `name == NULL`. Values have leading and trailing SP/HTAB
/// removed. The layout equals picohttpparser's `struct phr_header`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fastserve_header {
    pub name: *const c_char,
    pub name_len: usize,
    pub value: *const c_char,
    pub value_len: usize,
}

const _: () = assert!(core::mem::size_of::<fastserve_header>() == core::mem::size_of::<Header>());
const _: () = assert!(core::mem::align_of::<fastserve_header>() == core::mem::align_of::<Header>());

/// A parsed request line. Pointers point into the input buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fastserve_request_line {
    pub method: *const c_char,
    pub method_len: usize,
    pub path: *const c_char,
    pub path_len: usize,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: i32,
}

/// A parsed status line. `reason` points into the input buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fastserve_status_line {
    pub minor_version: i32,
    pub status: i32,
    pub reason: *const c_char,
    pub reason_len: usize,
}

/// The mode behind a C `mode` argument (an integer, so that any value
/// can be refused rather than be undefined behaviour).
fn mode_of(m: u32) -> Option<Mode> {
    match m {
        m if m == fastserve_parse_mode::FASTSERVE_PARSE_STRICT as u32 => Some(Mode::Strict),
        m if m == fastserve_parse_mode::FASTSERVE_PARSE_PICO as u32 => Some(Mode::Pico),
        _ => None,
    }
}

fn bad_mode(m: u32) -> String {
    format!("mode {m} is not FASTSERVE_PARSE_STRICT (0) or FASTSERVE_PARSE_PICO (1)")
}

/// # Safety
/// `h` is NULL with `n == 0`, or points to `n` writable headers.
unsafe fn slots<'a>(
    h: *mut fastserve_header,
    n: usize,
) -> Option<&'a mut [MaybeUninit<Header<'a>>]> {
    if h.is_null() {
        return if n == 0 { Some(&mut []) } else { None };
    }
    // SAFETY: identical layout (asserted above); `n` slots are writable by
    // contract, and `MaybeUninit` accepts any prior contents.
    Some(unsafe { core::slice::from_raw_parts_mut(h.cast(), n) })
}

/// The first of the named pointers that is NULL.
fn first_null(ptrs: &[(&'static str, bool)]) -> Option<&'static str> {
    ptrs.iter().find(|p| p.1).map(|p| p.0)
}

fn result(r: PResult<usize>, consumed: &mut usize) -> fastserve_result {
    match r {
        Ok(n) => {
            *consumed = n;
            FASTSERVE_RESULT_OK
        }
        Err(Fail::Partial) => FASTSERVE_RESULT_PARTIAL,
        Err(Fail::Invalid(e)) => e.into(),
    }
}

ffi_fn! {
    /// Parses an HTTP/1.x request head (request line and header fields,
    /// through the empty line) from the `len` bytes at `buf`.
    ///
    /// `mode` is a `fastserve_parse_mode`. `headers` is an array of
    /// `*num_headers` entries; on return `*num_headers` holds the number
    /// filled. On `FASTSERVE_RESULT_OK`, `*consumed` is the length of the
    /// head; the body, if any, starts at `buf + *consumed`.
    /// `FASTSERVE_RESULT_PARTIAL` means the head is incomplete: call again
    /// with more bytes (from the start of the head). Any other code is a
    /// parse error.
    ///
    /// Every pointer written to `line` and `headers` points into `buf`.
    /// No allocation.
    ///
    /// # Safety
    /// `buf` is NULL (with `len == 0`) or readable for `len` bytes; `line`,
    /// `num_headers` and `consumed` are writable; `headers` is writable for
    /// `*num_headers` entries (NULL if that is 0).
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_parse_request(
        buf: *const c_char,
        len: usize,
        mode: u32,
        line: *mut fastserve_request_line,
        headers: *mut fastserve_header,
        num_headers: *mut usize,
        consumed: *mut usize,
    ) -> fastserve_result {
        let outs = [
            ("line", line.is_null()),
            ("num_headers", num_headers.is_null()),
            ("consumed", consumed.is_null()),
        ];
        if let Some(name) = first_null(&outs) {
            return null(name);
        }
        // SAFETY: out-pointers checked; the rest valid by contract.
        unsafe {
            let Some(mode) = mode_of(mode) else {
                return invalid(bad_mode(mode));
            };
            let Some(buf) = bytes(buf, len) else {
                return null_with_len("buf", len);
            };
            let Some(slots) = slots(headers, *num_headers) else {
                return null_with_len("headers", *num_headers);
            };
            let mut out = RequestOut::default();
            let r = raw::request(Kernel::best(), mode, buf, slots, &mut out);
            *num_headers = out.headers;
            *line = fastserve_request_line {
                method: out.method.as_ptr().cast(),
                method_len: out.method.len(),
                path: out.path.as_ptr().cast(),
                path_len: out.path.len(),
                minor_version: if r.is_ok() { out.minor } else { -1 },
            };
            result(r, &mut *consumed)
        }
    }
}

ffi_fn! {
    /// Parses an HTTP/1.x response head. Arguments and results as
    /// `fastserve_parse_request`.
    ///
    /// # Safety
    /// As `fastserve_parse_request`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_parse_response(
        buf: *const c_char,
        len: usize,
        mode: u32,
        line: *mut fastserve_status_line,
        headers: *mut fastserve_header,
        num_headers: *mut usize,
        consumed: *mut usize,
    ) -> fastserve_result {
        let outs = [
            ("line", line.is_null()),
            ("num_headers", num_headers.is_null()),
            ("consumed", consumed.is_null()),
        ];
        if let Some(name) = first_null(&outs) {
            return null(name);
        }
        // SAFETY: out-pointers checked; the rest valid by contract.
        unsafe {
            let Some(mode) = mode_of(mode) else {
                return invalid(bad_mode(mode));
            };
            let Some(buf) = bytes(buf, len) else {
                return null_with_len("buf", len);
            };
            let Some(slots) = slots(headers, *num_headers) else {
                return null_with_len("headers", *num_headers);
            };
            let mut out = ResponseOut::default();
            let r = raw::response(Kernel::best(), mode, buf, slots, &mut out);
            *num_headers = out.headers;
            *line = fastserve_status_line {
                minor_version: if r.is_ok() { out.minor } else { -1 },
                status: out.status,
                reason: out.reason.as_ptr().cast(),
                reason_len: out.reason.len(),
            };
            result(r, &mut *consumed)
        }
    }
}

ffi_fn! {
    /// Parses header fields through the terminating empty line (for
    /// trailers, or heads whose first line was parsed elsewhere). Arguments
    /// as `fastserve_parse_request`.
    ///
    /// # Safety
    /// As `fastserve_parse_request`.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_parse_headers(
        buf: *const c_char,
        len: usize,
        mode: u32,
        headers: *mut fastserve_header,
        num_headers: *mut usize,
        consumed: *mut usize,
    ) -> fastserve_result {
        let outs = [
            ("num_headers", num_headers.is_null()),
            ("consumed", consumed.is_null()),
        ];
        if let Some(name) = first_null(&outs) {
            return null(name);
        }
        // SAFETY: out-pointers checked; the rest valid by contract.
        unsafe {
            let Some(mode) = mode_of(mode) else {
                return invalid(bad_mode(mode));
            };
            let Some(buf) = bytes(buf, len) else {
                return null_with_len("buf", len);
            };
            let Some(slots) = slots(headers, *num_headers) else {
                return null_with_len("headers", *num_headers);
            };
            let mut n = 0;
            let r = raw::headers(Kernel::best(), mode, buf, slots, &mut n);
            *num_headers = n;
            result(r, &mut *consumed)
        }
    }
}

/// State of a chunked-body decoder, one per body. Owned by the caller, from
/// `fastserve_chunked_decoder_new` to `fastserve_chunked_decoder_free`. Not
/// thread-safe: use each decoder from one thread at a time.
pub struct fastserve_chunked_decoder {
    inner: ChunkedDecoder,
    mode: Mode,
    /// Largest trailer section, in strict mode.
    max_trailer: usize,
}

/// The trailer section a strict decoder takes by default: the server's
/// default `max_header_bytes`, as trailer fields are header fields.
const MAX_TRAILER: usize = 8 * 1024;

ffi_fn! {
    /// Creates a chunked decoder. `mode` is a `fastserve_parse_mode`; with
    /// `consume_trailer` true the trailer section is read and dropped too.
    /// In strict mode trailer fields must be valid header fields (a token
    /// name and a colon, no obs-fold, no control bytes) and the section
    /// may hold 8 KiB (`fastserve_chunked_decoder_set_max_trailer`); the
    /// picohttpparser mode takes trailer lines as picohttpparser does.
    /// Returns NULL, and sets `fastserve_last_error`, for an unknown mode.
    /// The caller owns the decoder: free it with
    /// `fastserve_chunked_decoder_free`.
    ///
    /// On an internal panic: returns NULL.
    #[on_panic(core::ptr::null_mut())]
    #[no_mangle]
    pub extern "C" fn fastserve_chunked_decoder_new(
        mode: u32,
        consume_trailer: bool,
    ) -> *mut fastserve_chunked_decoder {
        let Some(m) = mode_of(mode) else {
            note(bad_mode(mode));
            return core::ptr::null_mut();
        };
        Box::into_raw(Box::new(fastserve_chunked_decoder {
            inner: ChunkedDecoder::new(consume_trailer),
            mode: m,
            max_trailer: MAX_TRAILER,
        }))
    }
}

ffi_fn! {
    /// Frees a decoder. NULL does nothing.
    ///
    /// # Safety
    /// `dec` is NULL or a decoder from `fastserve_chunked_decoder_new` that
    /// was not freed; it must not be used afterwards.
    ///
    /// On an internal panic: returns, and the decoder may leak.
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_chunked_decoder_free(dec: *mut fastserve_chunked_decoder) {
        if !dec.is_null() {
            // SAFETY: by contract `dec` came from `Box::into_raw` in
            // `fastserve_chunked_decoder_new` and is freed once.
            drop(unsafe { Box::from_raw(dec) });
        }
    }
}

ffi_fn! {
    /// Decodes the next piece of a chunked body in place.
    ///
    /// On entry `*len` is the number of bytes at `buf`. On return the first
    /// `*len` bytes of `buf` are body data decoded by this call.
    /// `FASTSERVE_RESULT_PARTIAL` means the body continues: feed the next
    /// bytes in a new call. `FASTSERVE_RESULT_OK` means the body ended;
    /// `*rest` bytes that followed it were moved to `buf + *len`. Other
    /// codes are framing errors.
    ///
    /// # Safety
    /// `dec` is a decoder from `fastserve_chunked_decoder_new` that was not
    /// freed; `buf` is NULL (with `*len == 0`) or writable for `*len` bytes;
    /// `len` and `rest` are writable.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_chunked_decode(
        dec: *mut fastserve_chunked_decoder,
        buf: *mut c_char,
        len: *mut usize,
        rest: *mut usize,
    ) -> fastserve_result {
        let args = [
            ("dec", dec.is_null()),
            ("len", len.is_null()),
            ("rest", rest.is_null()),
        ];
        if let Some(name) = first_null(&args) {
            return null(name);
        }
        // SAFETY: pointers checked; `buf` holds `*len` writable bytes by contract.
        unsafe {
            let dec = &mut *dec;
            let Some(data) = bytes_mut(buf, *len) else {
                return null_with_len("buf", *len);
            };
            let (n, r) = dec.inner.decode_raw(data, dec.mode == Mode::Strict);
            *len = n;
            if dec.inner.trailer_len() > dec.max_trailer {
                return FASTSERVE_RESULT_TRAILER_TOO_LARGE;
            }
            match r {
                Ok(Some(after)) => {
                    *rest = after;
                    FASTSERVE_RESULT_OK
                }
                Ok(None) => FASTSERVE_RESULT_PARTIAL,
                Err(e) => e.into(),
            }
        }
    }
}

ffi_fn! {
    /// Sets the largest trailer section a strict decoder takes, in bytes
    /// (default 8 KiB); past it `fastserve_chunked_decode` returns
    /// `FASTSERVE_RESULT_TRAILER_TOO_LARGE`. No effect in picohttpparser mode.
    ///
    /// # Safety
    /// `dec` is NULL or a decoder from `fastserve_chunked_decoder_new` that
    /// was not freed.
    ///
    /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
    #[on_panic(FASTSERVE_RESULT_PANIC)]
    #[no_mangle]
    pub unsafe extern "C" fn fastserve_chunked_decoder_set_max_trailer(
        dec: *mut fastserve_chunked_decoder,
        bytes: usize,
    ) -> fastserve_result {
        // SAFETY: NULL or a live decoder by contract.
        let Some(d) = (unsafe { dec.as_mut() }) else {
            return null("dec");
        };
        d.max_trailer = bytes;
        FASTSERVE_RESULT_OK
    }
}
