//! libfastserve also exports picohttpparser's API (`phr_parse_request`,
//! `phr_parse_response`, `phr_parse_headers`, `phr_decode_chunked`,
//! `phr_decode_chunked_is_in_data`), declared in picohttpparser.h rather
//! than here: same names, prototypes, struct layouts, return codes and
//! acceptance as upstream, so that a program written for picohttpparser
//! relinks against libfastserve unchanged. `struct phr_header` has the
//! layout of `fastserve_header`. After an internal panic they return -1
//! (`phr_decode_chunked_is_in_data`: 0); they never touch
//! `fastserve_last_error`.

use core::ffi::{c_char, c_int};
use core::mem::MaybeUninit;

use super::{bytes, bytes_mut};
use crate::parse::{
    raw, ChunkedDecoder, Fail, Header, Kernel, Mode, PResult, RequestOut, ResponseOut,
};

// With the `phr-symbols` feature off the functions keep mangled Rust names,
// so fastserve can share a binary with a real picohttpparser (the parser
// bench).

/// `struct phr_header`: the layout of [`Header`].
pub type phr_header = Header<'static>;
/// `struct phr_chunked_decoder`: the layout of [`ChunkedDecoder`].
pub type phr_chunked_decoder = ChunkedDecoder;

const _: () = assert!(core::mem::size_of::<Header>() == 4 * core::mem::size_of::<usize>());
const _: () = assert!(core::mem::size_of::<ChunkedDecoder>() == 8 + 8 + 16);

#[inline(always)]
fn code(r: PResult<usize>) -> c_int {
    match r {
        Ok(n) => n as c_int,
        Err(Fail::Partial) => -2,
        Err(Fail::Invalid(_)) => -1,
    }
}

/// Whether the parser set `s`: what it read starts inside `buf` (the
/// delimiter after it at least), where the empty slice it starts with does not.
#[inline]
fn read_from(s: &[u8], buf: &[u8]) -> bool {
    buf.as_ptr_range().contains(&s.as_ptr())
}

/// picohttpparser's `last_len` shortcut: a head that was incomplete at
/// `last_len` bytes is complete only if an empty line has arrived since.
/// Returns `Some(code)` when the caller should stop with that code.
fn incomplete_since(buf: &[u8], last_len: usize) -> Option<c_int> {
    if last_len == 0 {
        return None;
    }
    let mut i = last_len.saturating_sub(3);
    let mut newlines = 0;
    while i < buf.len() {
        match buf[i] {
            b'\r' => {
                match buf.get(i + 1) {
                    None => return Some(-2),
                    Some(b'\n') => {}
                    Some(_) => return Some(-1),
                }
                i += 2;
                newlines += 1;
            }
            b'\n' => {
                i += 1;
                newlines += 1;
            }
            _ => {
                i += 1;
                newlines = 0;
            }
        }
        if newlines == 2 {
            return None;
        }
    }
    Some(-2)
}

/// # Safety
/// `headers` is NULL (with `n == 0`) or points to `n` writable `phr_header`s.
#[inline(always)]
unsafe fn header_slots<'a>(
    headers: *mut phr_header,
    n: usize,
) -> Option<&'a mut [MaybeUninit<Header<'a>>]> {
    if headers.is_null() {
        return if n == 0 { Some(&mut []) } else { None };
    }
    // SAFETY: the caller provides `n` writable slots; `MaybeUninit` makes no
    // claim about their contents.
    Some(unsafe { core::slice::from_raw_parts_mut(headers.cast(), n) })
}

ffi_fn! {
    /// Parses a request head. See `picohttpparser.h`.
    ///
    /// # Safety
    /// The pointers follow picohttpparser's contract: `buf` readable for `len`
    /// bytes, the out-pointers writable, `headers` holding `*num_headers` slots.
    ///
    /// On an internal panic: returns -1.
    #[on_panic(-1)]
    #[cfg_attr(feature = "phr-symbols", no_mangle)]
    pub unsafe extern "C" fn phr_parse_request(
        buf: *const c_char,
        len: usize,
        method: *mut *const c_char,
        method_len: *mut usize,
        path: *mut *const c_char,
        path_len: *mut usize,
        minor_version: *mut c_int,
        headers: *mut phr_header,
        num_headers: *mut usize,
        last_len: usize,
    ) -> c_int {
        if method.is_null()
            || method_len.is_null()
            || path.is_null()
            || path_len.is_null()
            || minor_version.is_null()
            || num_headers.is_null()
        {
            return -1;
        }
        // SAFETY: all out-pointers were checked non-NULL above and are writable
        // by contract; `buf` and `headers` are valid by contract.
        unsafe {
            let max = *num_headers;
            *method = core::ptr::null();
            *method_len = 0;
            *path = core::ptr::null();
            *path_len = 0;
            *minor_version = -1;
            *num_headers = 0;
            let (Some(buf), Some(slots)) = (bytes(buf, len), header_slots(headers, max)) else {
                return -1;
            };
            if let Some(r) = incomplete_since(buf, last_len) {
                return r;
            }
            let mut out = RequestOut::default();
            let r = raw::request(Kernel::best(), Mode::Pico, buf, slots, &mut out);
            *num_headers = out.headers;
            // on -2 picohttpparser leaves what it read so far
            if matches!(r, Ok(_) | Err(Fail::Partial)) {
                if read_from(out.method, buf) {
                    *method = out.method.as_ptr().cast();
                    *method_len = out.method.len();
                }
                if read_from(out.path, buf) {
                    *path = out.path.as_ptr().cast();
                    *path_len = out.path.len();
                }
                *minor_version = out.minor;
            }
            code(r)
        }
    }
}

ffi_fn! {
    /// Parses a response head. See `picohttpparser.h`.
    ///
    /// # Safety
    /// As `phr_parse_request`.
    ///
    /// On an internal panic: returns -1.
    #[on_panic(-1)]
    #[cfg_attr(feature = "phr-symbols", no_mangle)]
    pub unsafe extern "C" fn phr_parse_response(
        buf: *const c_char,
        len: usize,
        minor_version: *mut c_int,
        status: *mut c_int,
        msg: *mut *const c_char,
        msg_len: *mut usize,
        headers: *mut phr_header,
        num_headers: *mut usize,
        last_len: usize,
    ) -> c_int {
        if minor_version.is_null()
            || status.is_null()
            || msg.is_null()
            || msg_len.is_null()
            || num_headers.is_null()
        {
            return -1;
        }
        // SAFETY: out-pointers checked non-NULL; the rest valid by contract.
        unsafe {
            let max = *num_headers;
            *minor_version = -1;
            *status = 0;
            *msg = core::ptr::null();
            *msg_len = 0;
            *num_headers = 0;
            let (Some(buf), Some(slots)) = (bytes(buf, len), header_slots(headers, max)) else {
                return -1;
            };
            if let Some(r) = incomplete_since(buf, last_len) {
                return r;
            }
            let mut out = ResponseOut::default();
            let r = raw::response(Kernel::best(), Mode::Pico, buf, slots, &mut out);
            *num_headers = out.headers;
            // on -2 picohttpparser leaves what it read so far
            if matches!(r, Ok(_) | Err(Fail::Partial)) {
                *minor_version = out.minor;
                *status = out.status;
                if read_from(out.reason, buf) {
                    *msg = out.reason.as_ptr().cast();
                    *msg_len = out.reason.len();
                }
            }
            code(r)
        }
    }
}

ffi_fn! {
    /// Parses a header section. See `picohttpparser.h`.
    ///
    /// # Safety
    /// As `phr_parse_request`.
    ///
    /// On an internal panic: returns -1.
    #[on_panic(-1)]
    #[cfg_attr(feature = "phr-symbols", no_mangle)]
    pub unsafe extern "C" fn phr_parse_headers(
        buf: *const c_char,
        len: usize,
        headers: *mut phr_header,
        num_headers: *mut usize,
        last_len: usize,
    ) -> c_int {
        if num_headers.is_null() {
            return -1;
        }
        // SAFETY: `num_headers` checked; the rest valid by contract.
        unsafe {
            let max = *num_headers;
            *num_headers = 0;
            let (Some(buf), Some(slots)) = (bytes(buf, len), header_slots(headers, max)) else {
                return -1;
            };
            if let Some(r) = incomplete_since(buf, last_len) {
                return r;
            }
            let mut n = 0;
            let r = raw::headers(Kernel::best(), Mode::Pico, buf, slots, &mut n);
            *num_headers = n;
            code(r)
        }
    }
}

ffi_fn! {
    /// Decodes a chunked body in place. See `picohttpparser.h`.
    ///
    /// # Safety
    /// `decoder` points to a zero-initialised (or previously used) decoder, `buf`
    /// is writable for `*bufsz` bytes.
    ///
    /// On an internal panic: returns -1.
    #[on_panic(-1)]
    #[cfg_attr(feature = "phr-symbols", no_mangle)]
    pub unsafe extern "C" fn phr_decode_chunked(
        decoder: *mut phr_chunked_decoder,
        buf: *mut c_char,
        bufsz: *mut usize,
    ) -> isize {
        if decoder.is_null() || bufsz.is_null() {
            return -1;
        }
        // SAFETY: pointers checked non-NULL; `buf` is writable for `*bufsz`
        // bytes and `decoder` is a valid decoder, by contract.
        unsafe {
            let Some(data) = bytes_mut(buf, *bufsz) else {
                return -1;
            };
            let (len, r) = (*decoder).decode_raw(data, false);
            *bufsz = len;
            match r {
                Ok(Some(rest)) => rest as isize,
                Ok(None) => -2,
                Err(_) => -1,
            }
        }
    }
}

ffi_fn! {
    /// Whether the decoder is in the middle of chunk data. See `picohttpparser.h`.
    ///
    /// # Safety
    /// `decoder` is NULL or points to a valid decoder.
    ///
    /// On an internal panic: returns 0.
    #[on_panic(0)]
    #[cfg_attr(feature = "phr-symbols", no_mangle)]
    pub unsafe extern "C" fn phr_decode_chunked_is_in_data(
        decoder: *mut phr_chunked_decoder,
    ) -> c_int {
        // SAFETY: a non-NULL decoder is valid by contract.
        match unsafe { decoder.as_ref() } {
            Some(d) => d.is_in_data() as c_int,
            None => 0,
        }
    }
}
