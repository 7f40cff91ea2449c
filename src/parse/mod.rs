//! Wire parsing for HTTP/1.x: request line, status line, header fields and chunked
//! bodies. Zero-copy (results borrow the input), no allocation, no I/O.
//!
//! Two modes share one code path, chosen by [`Mode`]:
//! - [`Mode::Strict`], RFC 9112 grammar, for the engine;
//! - [`Mode::Pico`], picohttpparser's acceptance and outputs, for the `phr_*` ABI.

mod chunked;
mod dispatch;
mod message;
pub(crate) mod scan;

use core::marker::PhantomData;
use core::mem::MaybeUninit;

pub use chunked::{ChunkedDecoder, Decoded};
pub use dispatch::Kernel;

/// How much of the grammar to enforce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// RFC 9112: single SP separators, CRLF line ends, no obs-fold, no bare CR or
    /// LF, no control bytes, a token method and an `HTTP/d.d` version.
    #[default]
    Strict,
    /// picohttpparser's behaviour, byte for byte: bare LF, runs of SP in the
    /// request line, continuation lines reported with an empty name.
    Pico,
}

/// Why a message was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The method is empty or holds a byte that is not a `tchar`.
    Method,
    /// The request target is empty or holds a control byte (strict: any byte
    /// outside `0x21..=0x7e`).
    Target,
    /// The version is not `HTTP/` DIGIT `.` DIGIT.
    Version,
    /// A well-formed version other than HTTP/1.x.
    UnsupportedVersion,
    /// A line ends in a bare CR (or, in strict mode, a bare LF), or an
    /// unexpected byte stands where a line end belongs.
    NewLine,
    /// A field name is empty, holds a non-`tchar` byte, is followed by
    /// whitespace before the colon, or (strict) the line is an obs-fold.
    HeaderName,
    /// A field value holds a control byte.
    HeaderValue,
    /// More header fields than the caller's array can hold.
    TooManyHeaders,
    /// The status code is not three digits, or garbage follows it.
    Status,
    /// A chunk-size line is malformed (not hex, too long, bad terminator).
    ChunkSize,
    /// Chunk data is not followed by CRLF.
    ChunkData,
    /// Chunk framing overhead is out of proportion to the data it carries.
    ChunkOverhead,
}

impl Error {
    /// A short static description.
    pub fn as_str(self) -> &'static str {
        match self {
            Error::Method => "invalid method",
            Error::Target => "invalid request target",
            Error::Version => "invalid HTTP version",
            Error::UnsupportedVersion => "unsupported HTTP version",
            Error::NewLine => "invalid line ending",
            Error::HeaderName => "invalid header name",
            Error::HeaderValue => "invalid header value",
            Error::TooManyHeaders => "too many headers",
            Error::Status => "invalid status code",
            Error::ChunkSize => "invalid chunk size line",
            Error::ChunkData => "chunk data not followed by CRLF",
            Error::ChunkOverhead => "chunked framing overhead too large",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}

/// A parse either completes, consuming a number of bytes, or needs more input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The message head is complete and is `len` bytes long.
    Complete { len: usize, value: T },
    /// The input ends before the head does. No byte seen so far is invalid.
    Partial,
}

impl<T> Status<T> {
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }
    /// The parsed value, or `None` while partial.
    pub fn complete(self) -> Option<(usize, T)> {
        match self {
            Status::Complete { len, value } => Some((len, value)),
            Status::Partial => None,
        }
    }
}

/// One header field, borrowed from the input.
///
/// Laid out exactly like picohttpparser's `struct phr_header`, so that the
/// `phr_*` ABI fills the caller's array directly. A continuation line (pico mode
/// only) has a null name.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Header<'b> {
    name: *const u8,
    name_len: usize,
    value: *const u8,
    value_len: usize,
    _buf: PhantomData<&'b [u8]>,
}

// SAFETY: a `Header` is two shared borrows of `&'b [u8]` data, which is
// itself `Send` and `Sync`.
unsafe impl Send for Header<'_> {}
// SAFETY: as above.
unsafe impl Sync for Header<'_> {}

impl<'b> Header<'b> {
    pub const EMPTY: Header<'static> = Header {
        name: core::ptr::null(),
        name_len: 0,
        value: core::ptr::null(),
        value_len: 0,
        _buf: PhantomData,
    };

    #[inline(always)]
    pub(crate) fn new(name: Option<&'b [u8]>, value: &'b [u8]) -> Self {
        let (name, name_len) = match name {
            Some(n) => (n.as_ptr(), n.len()),
            None => (core::ptr::null(), 0),
        };
        Header {
            name,
            name_len,
            value: value.as_ptr(),
            value_len: value.len(),
            _buf: PhantomData,
        }
    }

    /// The field name; empty for a continuation line.
    #[inline]
    pub fn name(&self) -> &'b [u8] {
        if self.name.is_null() {
            return &[];
        }
        // SAFETY: a non-null name was taken from a `&'b [u8]` by `Header::new`.
        unsafe { core::slice::from_raw_parts(self.name, self.name_len) }
    }

    /// The field value, with leading and trailing SP/HTAB removed.
    #[inline]
    pub fn value(&self) -> &'b [u8] {
        if self.value.is_null() {
            return &[];
        }
        // SAFETY: a non-null value was taken from a `&'b [u8]` by `Header::new`.
        unsafe { core::slice::from_raw_parts(self.value, self.value_len) }
    }

    /// True for an obs-fold continuation line (pico mode).
    pub fn is_continuation(&self) -> bool {
        self.name.is_null() && !self.value.is_null()
    }
}

impl core::fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Header")
            .field("name", &String::from_utf8_lossy(self.name()))
            .field("value", &String::from_utf8_lossy(self.value()))
            .finish()
    }
}

impl PartialEq for Header<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.name.is_null() == o.name.is_null()
            && self.name() == o.name()
            && self.value() == o.value()
    }
}

/// A parsed request head. `headers` counts the fields written to the caller's array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'b> {
    pub method: &'b [u8],
    pub path: &'b [u8],
    pub minor_version: u8,
    pub headers: usize,
}

/// A parsed response head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'b> {
    pub minor_version: u8,
    pub status: u16,
    pub reason: &'b [u8],
    pub headers: usize,
}

/// Parser settings. `Default` is strict mode on the best kernel of this CPU.
#[derive(Clone, Copy, Debug, Default)]
pub struct Config {
    pub mode: Mode,
    /// Force a kernel (tests, benches); `None` picks the best one at run time.
    pub kernel: Option<Kernel>,
}

impl Config {
    pub const fn strict() -> Self {
        Config {
            mode: Mode::Strict,
            kernel: None,
        }
    }
    pub const fn pico() -> Self {
        Config {
            mode: Mode::Pico,
            kernel: None,
        }
    }
    pub const fn with_kernel(mut self, k: Kernel) -> Self {
        self.kernel = Some(k);
        self
    }
    #[inline(always)]
    fn kernel(&self) -> Kernel {
        match self.kernel {
            Some(k) => k,
            None => Kernel::best(),
        }
    }
}

// SAFETY (for the casts below): `MaybeUninit<T>` has the layout of `T`, and the
// parser only ever writes whole initialised `Header`s into the slice.
#[inline(always)]
fn as_uninit<'a, 'b>(h: &'a mut [Header<'b>]) -> &'a mut [MaybeUninit<Header<'b>>] {
    // SAFETY: see above; writing initialised values keeps `h` initialised.
    unsafe { &mut *(h as *mut [Header<'b>] as *mut [MaybeUninit<Header<'b>>]) }
}

/// Parses a request head from `buf`, filling `headers` from the front.
///
/// ```
/// use fastserve::parse::{parse_request, Config, Header, Status};
/// let mut h = [Header::EMPTY; 8];
/// let r = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &mut h, &Config::strict());
/// let (len, req) = r.unwrap().complete().unwrap();
/// assert_eq!((len, req.method, req.headers), (27, &b"GET"[..], 1));
/// assert_eq!(h[0].value(), b"a");
/// ```
#[inline]
pub fn parse_request<'b>(
    buf: &'b [u8],
    headers: &mut [Header<'b>],
    cfg: &Config,
) -> Result<Status<Request<'b>>, Error> {
    let mut out = message::RequestOut::default();
    let r = dispatch::request(cfg.kernel(), cfg.mode, buf, as_uninit(headers), &mut out);
    finish(r, || Request {
        method: out.method,
        path: out.path,
        minor_version: out.minor as u8,
        headers: out.headers,
    })
}

/// Parses a response head from `buf`.
#[inline]
pub fn parse_response<'b>(
    buf: &'b [u8],
    headers: &mut [Header<'b>],
    cfg: &Config,
) -> Result<Status<Response<'b>>, Error> {
    let mut out = message::ResponseOut::default();
    let r = dispatch::response(cfg.kernel(), cfg.mode, buf, as_uninit(headers), &mut out);
    finish(r, || Response {
        minor_version: out.minor as u8,
        status: out.status as u16,
        reason: out.reason,
        headers: out.headers,
    })
}

/// Parses a header section (for example trailers) up to and including its
/// terminating empty line. Returns the number of fields.
#[inline]
pub fn parse_headers<'b>(
    buf: &'b [u8],
    headers: &mut [Header<'b>],
    cfg: &Config,
) -> Result<Status<usize>, Error> {
    let mut n = 0;
    let r = dispatch::headers(cfg.kernel(), cfg.mode, buf, as_uninit(headers), &mut n);
    finish(r, || n)
}

#[inline(always)]
fn finish<T>(r: message::PResult<usize>, value: impl FnOnce() -> T) -> Result<Status<T>, Error> {
    match r {
        Ok(len) => Ok(Status::Complete {
            len,
            value: value(),
        }),
        Err(message::Fail::Partial) => Ok(Status::Partial),
        Err(message::Fail::Invalid(e)) => Err(e),
    }
}

pub(crate) use message::{Fail, PResult, RequestOut, ResponseOut};

/// Low-level entry points on caller-owned, possibly uninitialised header arrays,
/// reporting progress on failure too (the `phr_*` ABI needs both).
pub(crate) mod raw {
    pub(crate) use super::dispatch::{headers, request, response};
}
