//! Response heads: rendered straight into the output buffer, with the cached
//! `Date`, an automatic `Content-Length` and the connection header.

use super::date::DATE_LEN;
use super::framing::{self, ConnHeader};
use super::output::ExtBody;

/// Why a host may not add a header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldProblem {
    EmptyName,
    /// The name holds a byte that is not a token character.
    NameNotToken,
    /// The value holds a control byte (other than HTAB).
    ControlInValue,
    /// Content-Length, Date, Connection or Transfer-Encoding: the engine's.
    Reserved,
}

/// What is wrong with the field `name: value`, if a host may not add it:
/// the name must be a token, the value field-value bytes, and the field
/// none of those the engine writes itself.
#[inline]
pub fn header_field_problem(name: &[u8], value: &[u8]) -> Option<FieldProblem> {
    // a single pass without early exits: failures are rare
    let token = name
        .iter()
        .fold(true, |ok, &b| ok & crate::parse::scan::TOKEN[b as usize]);
    let field = field_value(value);
    if name.is_empty() {
        Some(FieldProblem::EmptyName)
    } else if !token {
        Some(FieldProblem::NameNotToken)
    } else if !field {
        Some(FieldProblem::ControlInValue)
    } else if reserved(name) {
        Some(FieldProblem::Reserved)
    } else {
        None
    }
}

/// Whether every byte of `v` may be in a field value: no control byte but
/// HTAB, no DEL. Eight bytes at a time, the last word overlapping the one
/// before; only a word with a byte below 0x20 or a DEL (a tab, usually)
/// is looked at byte by byte.
#[inline]
fn field_value(v: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let byte = |b: u8| (b >= 0x20 || b == b'\t') && b != 0x7f;
    let n = v.len();
    if n < 8 {
        return v.iter().fold(true, |ok, &b| ok & byte(b));
    }
    // per byte: below 0x20, or equal to 0x7f (exact for "any such byte")
    let suspect = |w: u64| {
        let d = w ^ (ONES * 0x7f);
        (w.wrapping_sub(ONES * 0x20) & !w | d.wrapping_sub(ONES) & !d) & HIGH != 0
    };
    let mut i = 0;
    loop {
        let at = i.min(n - 8);
        let w = &v[at..at + 8];
        if suspect(u64::from_le_bytes(w.try_into().unwrap())) && !w.iter().all(|&b| byte(b)) {
            return false;
        }
        if at + 8 == n {
            return true;
        }
        i += 8;
    }
}

/// Content-Length, Date, Connection or Transfer-Encoding, in any case.
#[inline]
fn reserved(name: &[u8]) -> bool {
    let r: &[u8] = match name.len() {
        4 => b"date",
        10 => b"connection",
        14 => b"content-length",
        17 => b"transfer-encoding",
        _ => return false,
    };
    name.eq_ignore_ascii_case(r)
}

/// Whether a host may add the field `name: value` (see
/// [`header_field_problem`]).
#[inline]
pub fn valid_header_field(name: &[u8], value: &[u8]) -> bool {
    header_field_problem(name, value).is_none()
}

/// Whether `status` can answer a request: 200..=999 (1xx are interim).
#[inline]
pub fn valid_status(status: u16) -> bool {
    (200..=999).contains(&status)
}

/// Whether a response with `status` may carry a body: 1xx, 204 and 304
/// never do (nor a `Content-Length`), so a body given for them is refused
/// rather than left for the client to misread as the next response.
#[inline]
pub fn body_allowed(status: u16) -> bool {
    !matches!(status, 100..=199 | 204 | 304)
}

/// Defines `reason` and `status_line` from one list of codes.
macro_rules! statuses {
    ($($code:literal $text:literal,)*) => {
        /// The standard reason phrase of a status code ("" for unknown codes).
        pub fn reason(status: u16) -> &'static str {
            match status {
                $($code => $text,)*
                _ => "",
            }
        }

        /// `HTTP/1.1 <code> <reason>\r\n` for a code with a reason phrase,
        /// else "".
        #[inline]
        fn status_line(status: u16) -> &'static [u8] {
            match status {
                $($code => concat!("HTTP/1.1 ", stringify!($code), " ", $text, "\r\n").as_bytes(),)*
                _ => b"",
            }
        }
    };
}

statuses! {
    100 "Continue",
    101 "Switching Protocols",
    200 "OK",
    201 "Created",
    202 "Accepted",
    203 "Non-Authoritative Information",
    204 "No Content",
    205 "Reset Content",
    206 "Partial Content",
    300 "Multiple Choices",
    301 "Moved Permanently",
    302 "Found",
    303 "See Other",
    304 "Not Modified",
    307 "Temporary Redirect",
    308 "Permanent Redirect",
    400 "Bad Request",
    401 "Unauthorized",
    402 "Payment Required",
    403 "Forbidden",
    404 "Not Found",
    405 "Method Not Allowed",
    406 "Not Acceptable",
    407 "Proxy Authentication Required",
    408 "Request Timeout",
    409 "Conflict",
    410 "Gone",
    411 "Length Required",
    412 "Precondition Failed",
    413 "Content Too Large",
    414 "URI Too Long",
    415 "Unsupported Media Type",
    416 "Range Not Satisfiable",
    417 "Expectation Failed",
    421 "Misdirected Request",
    422 "Unprocessable Content",
    426 "Upgrade Required",
    428 "Precondition Required",
    429 "Too Many Requests",
    431 "Request Header Fields Too Large",
    451 "Unavailable For Legal Reasons",
    500 "Internal Server Error",
    501 "Not Implemented",
    502 "Bad Gateway",
    503 "Service Unavailable",
    504 "Gateway Timeout",
    505 "HTTP Version Not Supported",
}

/// A response built by a handler: status, extra header lines (each already
/// `Name: value\r\n`), and a body.
pub struct Response<'a> {
    pub status: u16,
    pub headers: &'a [u8],
    pub body: Body<'a>,
}

impl Response<'static> {
    /// Only a status, with an empty body: the engine's own answers, such as
    /// the 500 for a request a handler left unanswered.
    pub const fn empty(status: u16) -> Self {
        Response {
            status,
            headers: b"",
            body: Body::Copy(b""),
        }
    }
}

/// Where a response body lives.
pub enum Body<'a> {
    /// Copied into the output buffer.
    Copy(&'a [u8]),
    /// Sent from its own storage without a copy.
    Ext(ExtBody),
}

impl Body<'_> {
    pub fn len(&self) -> usize {
        match self {
            Body::Copy(b) => b.len(),
            Body::Ext(e) => e.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Room for what `head` writes besides the status line, `Server`'s value,
/// the connection field and the caller's fields: `Server: \r\n`,
/// `Date: <date>\r\n`, `Content-Length: <20 digits>\r\n`, the blank line.
const HEAD_FIXED: usize = 10 + 6 + DATE_LEN + 2 + 16 + 20 + 2 + 2;

/// A write position in capacity reserved beforehand.
pub(super) struct Put(pub(super) *mut u8);

impl Put {
    /// # Safety
    /// `b.len()` bytes of reserved room remain at the position.
    #[inline(always)]
    pub(super) unsafe fn bytes(&mut self, b: &[u8]) {
        // SAFETY: room by contract; `b` is not in the spare capacity.
        unsafe {
            copy_short(b, self.0);
            self.0 = self.0.add(b.len());
        }
    }

    /// As `bytes`, for `b` known to be long (a whole head): one call.
    ///
    /// # Safety
    /// `b.len()` bytes of reserved room remain at the position.
    #[inline(always)]
    pub(super) unsafe fn long(&mut self, b: &[u8]) {
        // SAFETY: room by contract; `b` is not in the spare capacity.
        unsafe {
            std::ptr::copy_nonoverlapping(b.as_ptr(), self.0, b.len());
            self.0 = self.0.add(b.len());
        }
    }

    /// # Safety
    /// 20 bytes of reserved room remain at the position.
    #[inline(always)]
    pub(super) unsafe fn num(&mut self, n: usize) {
        let mut len = 1;
        let mut rest = n / 10;
        while rest > 0 {
            len += 1;
            rest /= 10;
        }
        let mut n = n;
        // SAFETY: `len` ≤ 20 (usize::MAX has 20 digits) bytes of room.
        unsafe {
            let mut at = self.0.add(len);
            loop {
                at = at.sub(1);
                *at = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            self.0 = self.0.add(len);
        }
    }
}

/// Copies `src` to `dst`, a field or a short body in two overlapping moves
/// rather than a call (a literal's length folds the branches away).
///
/// # Safety
/// `dst` is valid for `src.len()` bytes of writes and does not overlap `src`.
#[inline(always)]
pub(super) unsafe fn copy_short(src: &[u8], dst: *mut u8) {
    use std::ptr::{read_unaligned as get, write_unaligned as put};
    let (n, s) = (src.len(), src.as_ptr());
    // SAFETY: every move stays within the first `n` bytes of `src` and
    // `dst`, which the contract makes valid.
    unsafe {
        match n {
            0..=3 => {
                for i in 0..n {
                    *dst.add(i) = *s.add(i);
                }
            }
            4..=7 => {
                put(dst.cast::<u32>(), get(s.cast::<u32>()));
                put(
                    dst.add(n - 4).cast::<u32>(),
                    get(s.add(n - 4).cast::<u32>()),
                );
            }
            8..=16 => {
                put(dst.cast::<u64>(), get(s.cast::<u64>()));
                put(
                    dst.add(n - 8).cast::<u64>(),
                    get(s.add(n - 8).cast::<u64>()),
                );
            }
            17..=32 => {
                put(dst.cast::<u128>(), get(s.cast::<u128>()));
                put(
                    dst.add(n - 16).cast::<u128>(),
                    get(s.add(n - 16).cast::<u128>()),
                );
            }
            _ => std::ptr::copy_nonoverlapping(s, dst, n),
        }
    }
}

/// Appends the field line `name: value\r\n`.
#[inline]
pub(crate) fn push_field(dst: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    let n = name.len() + value.len() + 4;
    dst.reserve(n);
    // SAFETY: `n` bytes were reserved past `len`, and exactly they are
    // written before `set_len` covers them.
    unsafe {
        let mut w = Put(dst.as_mut_ptr().add(dst.len()));
        w.bytes(name);
        w.bytes(b": ");
        w.bytes(value);
        w.bytes(b"\r\n");
        dst.set_len(dst.len() + n);
    }
}

#[inline]
fn conn_field(conn: ConnHeader) -> &'static [u8] {
    match conn {
        ConnHeader::None => b"",
        ConnHeader::KeepAlive => b"Connection: keep-alive\r\n",
        ConnHeader::Close => b"Connection: close\r\n",
        ConnHeader::Upgrade => b"Connection: upgrade\r\n",
    }
}

/// Renders a status line and the automatic fields, then `extra`, then the
/// blank line. Returns where in `dst` the date was written.
#[inline]
pub(crate) fn head(
    dst: &mut Vec<u8>,
    status: u16,
    server: Option<&[u8]>,
    date: &[u8; DATE_LEN],
    content_length: Option<usize>,
    conn: ConnHeader,
    extra: &[u8],
) -> usize {
    head_and(dst, status, server, date, content_length, conn, extra, b"")
}

/// `head`, then `body`, in one reservation.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn head_and(
    dst: &mut Vec<u8>,
    status: u16,
    server: Option<&[u8]>,
    date: &[u8; DATE_LEN],
    content_length: Option<usize>,
    conn: ConnHeader,
    extra: &[u8],
    body: &[u8],
) -> usize {
    let mut unlisted = [0u8; 17];
    let mut line = status_line(status);
    if line.is_empty() {
        line = unlisted_line(&mut unlisted, status);
    }
    let conn = conn_field(conn);
    let server_len = server.map_or(0, <[u8]>::len);
    dst.reserve(line.len() + server_len + HEAD_FIXED + conn.len() + extra.len() + body.len());
    let start = dst.len();
    // SAFETY: the writes below add at most the room just reserved past
    // `start` (HEAD_FIXED counts every fixed part and 20 digits), so they
    // stay in `dst`'s capacity; `set_len` then covers only written bytes.
    unsafe {
        let base = dst.as_mut_ptr();
        let mut w = Put(base.add(start));
        w.bytes(line);
        if let Some(s) = server {
            w.bytes(b"Server: ");
            w.bytes(s);
            w.bytes(b"\r\n");
        }
        w.bytes(b"Date: ");
        let date_at = w.0.offset_from(base) as usize;
        w.bytes(date);
        w.bytes(b"\r\n");
        if let Some(n) = content_length {
            w.bytes(b"Content-Length: ");
            w.num(n);
            w.bytes(b"\r\n");
        }
        w.bytes(conn);
        w.bytes(extra);
        w.bytes(b"\r\n");
        w.bytes(body);
        dst.set_len(w.0.offset_from(base) as usize);
        date_at
    }
}

/// `HTTP/1.1 <code> \r\n` for a code without a reason phrase.
#[cold]
fn unlisted_line(buf: &mut [u8; 17], status: u16) -> &[u8] {
    buf[..9].copy_from_slice(b"HTTP/1.1 ");
    let mut len = 9;
    let mut div = 10000;
    while div > 1 && status / div == 0 {
        div /= 10;
    }
    while div > 0 {
        buf[len] = b'0' + (status / div % 10) as u8;
        len += 1;
        div /= 10;
    }
    buf[len..len + 3].copy_from_slice(b" \r\n");
    &buf[..len + 3]
}

/// Renders a whole response: the head with `Date`, `Content-Length` (as
/// [`framing::response`] says) and `Server`, then a copied body. Returns
/// the body to send from its own storage, if any.
#[inline(always)]
pub(crate) fn response(
    dst: &mut Vec<u8>,
    r: Response<'_>,
    server: Option<&[u8]>,
    date: &[u8; DATE_LEN],
    conn: ConnHeader,
    head_only: bool,
) -> Option<ExtBody> {
    let f = framing::response(r.status, head_only, r.body.len());
    let (copied, ext) = match r.body {
        Body::Copy(b) => (if f.send_body { b } else { b"" }, None),
        Body::Ext(e) => (&b""[..], f.send_body.then_some(e)),
    };
    head_and(
        dst,
        r.status,
        server,
        date,
        f.content_length,
        conn,
        r.headers,
        copied,
    );
    ext
}

/// Renders the head of a streamed response: `Content-Length` when its
/// length is known, else `Transfer-Encoding: chunked` when `h` says so.
pub(crate) fn stream_head(
    dst: &mut Vec<u8>,
    status: u16,
    server: Option<&[u8]>,
    date: &[u8; DATE_LEN],
    h: &super::stream::Head,
    conn: ConnHeader,
    extra: &[u8],
) {
    head(dst, status, server, date, h.content_length, conn, extra);
    if h.chunked {
        // before the blank line that `head` ended with
        dst.truncate(dst.len() - 2);
        dst.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    }
}

/// Renders the head that switches protocols: a 101 says `Connection:
/// upgrade`; neither it nor a 2xx to `CONNECT` has a body or its framing.
pub(crate) fn switch_head(
    dst: &mut Vec<u8>,
    status: u16,
    server: Option<&[u8]>,
    date: &[u8; DATE_LEN],
    extra: &[u8],
) {
    let conn = if status == 101 {
        ConnHeader::Upgrade
    } else {
        ConnHeader::None
    };
    head(dst, status, server, date, None, conn, extra);
}

/// A response rendered once, at route registration, and served by copying it
/// into the output buffer around the current date.
#[derive(Clone, Debug)]
pub struct StaticResponse {
    /// Status line, `Server`, and the `Date: ` field name.
    pre_date: Vec<u8>,
    /// CRLF after the date, `Content-Length`, the caller's fields.
    post_date: Vec<u8>,
    /// `post_date`, the blank line and the body: the keep-alive case in one copy.
    post_date_body: Vec<u8>,
    body: Vec<u8>,
    status: u16,
}

impl StaticResponse {
    /// `headers` holds complete `Name: value\r\n` lines.
    pub fn new(status: u16, server: Option<&[u8]>, headers: &[u8], body: &[u8]) -> Self {
        let f = framing::response(status, false, body.len());
        let body = if f.send_body { body } else { b"" };
        let mut pre = Vec::new();
        let date = [0u8; DATE_LEN];
        let at = head(
            &mut pre,
            status,
            server,
            &date,
            f.content_length,
            ConnHeader::None,
            headers,
        );
        let post = pre[at + DATE_LEN..pre.len() - 2].to_vec(); // without the final CRLF
        pre.truncate(at);
        StaticResponse {
            pre_date: pre,
            post_date_body: [&post[..], b"\r\n", body].concat(),
            post_date: post,
            body: body.to_vec(),
            status,
        }
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    #[inline]
    pub(crate) fn write(
        &self,
        dst: &mut Vec<u8>,
        date: &[u8; DATE_LEN],
        conn: ConnHeader,
        head_only: bool,
    ) {
        dst.extend_from_slice(&self.pre_date);
        dst.extend_from_slice(date);
        if conn == ConnHeader::None && !head_only {
            dst.extend_from_slice(&self.post_date_body);
            return;
        }
        dst.extend_from_slice(&self.post_date);
        match conn {
            ConnHeader::None => {}
            ConnHeader::KeepAlive => dst.extend_from_slice(b"Connection: keep-alive\r\n"),
            ConnHeader::Close => dst.extend_from_slice(b"Connection: close\r\n"),
            ConnHeader::Upgrade => dst.extend_from_slice(b"Connection: upgrade\r\n"),
        }
        dst.extend_from_slice(b"\r\n");
        if !head_only {
            dst.extend_from_slice(&self.body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_are_checked_at_every_length_offset_and_byte() {
        let ok = |b: u8| (b >= 0x20 || b == b'\t') && b != 0x7f;
        for n in 1..=40 {
            for at in 0..n {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; n];
                    v[at] = b;
                    // a tab elsewhere in the same word must not hide it
                    if n > 1 {
                        v[(at + 1) % n] = b'\t';
                    }
                    assert_eq!(field_value(&v), ok(b), "{n} bytes, {b:#x} at {at}");
                }
            }
        }
        assert!(field_value(b""));
        assert!(field_value("caf\u{e9} \u{2603}\t!".as_bytes()));
    }

    fn rendered(s: &StaticResponse, conn: ConnHeader, head_only: bool) -> Vec<u8> {
        let mut out = Vec::new();
        s.write(&mut out, b"Sun, 06 Nov 1994 08:49:37 GMT", conn, head_only);
        out
    }

    fn dynamic(
        status: u16,
        server: &[u8],
        body: &[u8],
        conn: ConnHeader,
        head_only: bool,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let r = Response {
            status,
            headers: b"X-A: 1\r\n",
            body: Body::Copy(body),
        };
        let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
        assert!(response(&mut out, r, Some(server), date, conn, head_only).is_none());
        out
    }

    /// The status line, the header lines in order of name, and the body.
    fn normal(msg: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
        let end = msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let mut lines: Vec<Vec<u8>> = msg[..end + 2]
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect();
        lines[1..].sort();
        (lines, msg[end + 4..].to_vec())
    }

    #[test]
    fn static_responses_equal_rendered_ones() {
        // a server name holding "Date: " must not move the date
        for server in [&b"fastserve"[..], b"Date: 1", b"x\r\nDate: "] {
            for status in [200, 204, 304, 404] {
                let s = StaticResponse::new(status, Some(server), b"X-A: 1\r\n", b"hello");
                for conn in [ConnHeader::None, ConnHeader::KeepAlive, ConnHeader::Close] {
                    for head_only in [false, true] {
                        assert_eq!(
                            normal(&rendered(&s, conn, head_only)),
                            normal(&dynamic(status, server, b"hello", conn, head_only)),
                            "{status} {conn:?} {head_only}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn status_lines_and_lengths() {
        let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
        for (status, line) in [
            (200, "HTTP/1.1 200 OK\r\n"),
            (431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            (599, "HTTP/1.1 599 \r\n"),
            (999, "HTTP/1.1 999 \r\n"),
            (65535, "HTTP/1.1 65535 \r\n"),
        ] {
            let mut out = b"before".to_vec();
            let at = head(&mut out, status, None, date, None, ConnHeader::None, b"");
            let text = String::from_utf8(out).unwrap();
            assert_eq!(
                text,
                format!(
                    "before{line}Date: {}\r\n\r\n",
                    "Sun, 06 Nov 1994 08:49:37 GMT"
                )
            );
            assert_eq!(&text.as_bytes()[at..at + DATE_LEN], date);
        }
        for n in [0, 7, 9, 10, 99, 100, 12345, 1 << 40, usize::MAX] {
            let mut out = Vec::new();
            head(
                &mut out,
                200,
                Some(b"s"),
                date,
                Some(n),
                ConnHeader::Close,
                b"X: y\r\n",
            );
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.ends_with(&format!(
                    "Content-Length: {n}\r\nConnection: close\r\nX: y\r\n\r\n"
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn fields_and_bodies_of_every_short_length_are_copied_whole() {
        let src: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=40 {
            let mut out = b"<".to_vec();
            push_field(&mut out, &src[..n], &src[40 - n..]);
            let want = [&b"<"[..], &src[..n], b": ", &src[40 - n..], b"\r\n"].concat();
            assert_eq!(out, want, "{n}");
        }
    }

    #[test]
    fn no_content_has_no_length_and_no_body() {
        let out = dynamic(204, b"s", b"ignored", ConnHeader::None, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
        assert!(!text.contains("Content-Length"), "{text}");
        assert!(text.ends_with("X-A: 1\r\n\r\n"), "{text}");
    }
}
