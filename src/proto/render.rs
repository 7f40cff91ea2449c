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
    let token = |b: &u8| crate::parse::scan::TOKEN[*b as usize];
    let field = |b: &u8| (*b >= 0x20 && *b != 0x7f) || *b == b'\t';
    const RESERVED: [&[u8]; 4] = [
        b"content-length",
        b"date",
        b"connection",
        b"transfer-encoding",
    ];
    if name.is_empty() {
        Some(FieldProblem::EmptyName)
    } else if !name.iter().all(token) {
        Some(FieldProblem::NameNotToken)
    } else if !value.iter().all(field) {
        Some(FieldProblem::ControlInValue)
    } else if RESERVED.iter().any(|r| name.eq_ignore_ascii_case(r)) {
        Some(FieldProblem::Reserved)
    } else {
        None
    }
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

/// The standard reason phrase of a status code ("" for unknown codes).
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
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

#[inline]
fn push_num(dst: &mut Vec<u8>, mut n: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&tmp[i..]);
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
    dst.extend_from_slice(b"HTTP/1.1 ");
    push_num(dst, status as usize);
    dst.push(b' ');
    dst.extend_from_slice(reason(status).as_bytes());
    dst.extend_from_slice(b"\r\n");
    if let Some(s) = server {
        dst.extend_from_slice(b"Server: ");
        dst.extend_from_slice(s);
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(b"Date: ");
    let date_at = dst.len();
    dst.extend_from_slice(date);
    dst.extend_from_slice(b"\r\n");
    if let Some(n) = content_length {
        dst.extend_from_slice(b"Content-Length: ");
        push_num(dst, n);
        dst.extend_from_slice(b"\r\n");
    }
    match conn {
        ConnHeader::None => {}
        ConnHeader::KeepAlive => dst.extend_from_slice(b"Connection: keep-alive\r\n"),
        ConnHeader::Close => dst.extend_from_slice(b"Connection: close\r\n"),
        ConnHeader::Upgrade => dst.extend_from_slice(b"Connection: upgrade\r\n"),
    }
    dst.extend_from_slice(extra);
    dst.extend_from_slice(b"\r\n");
    date_at
}

/// Renders a whole response: the head with `Date`, `Content-Length` (as
/// [`framing::response`] says) and `Server`, then a copied body. Returns
/// the body to send from its own storage, if any.
#[inline]
pub(crate) fn response(
    dst: &mut Vec<u8>,
    r: Response<'_>,
    server: Option<&[u8]>,
    date: &[u8; DATE_LEN],
    conn: ConnHeader,
    head_only: bool,
) -> Option<ExtBody> {
    let f = framing::response(r.status, head_only, r.body.len());
    head(
        dst,
        r.status,
        server,
        date,
        f.content_length,
        conn,
        r.headers,
    );
    match r.body {
        Body::Copy(b) => {
            if f.send_body {
                dst.extend_from_slice(b);
            }
            None
        }
        Body::Ext(e) => f.send_body.then_some(e),
    }
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
    fn no_content_has_no_length_and_no_body() {
        let out = dynamic(204, b"s", b"ignored", ConnHeader::None, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
        assert!(!text.contains("Content-Length"), "{text}");
        assert!(text.ends_with("X-A: 1\r\n\r\n"), "{text}");
    }
}
