//! Requests laid out flat, and responses read back flat: how a batch of
//! requests crosses to a host language in one call, and how all its answers
//! come back in one call.
//!
//! Requests: an array of fixed 64-byte [`FlatRecord`]s plus one data area.
//! Each request's head and body are copied into the data area with a single
//! copy; every offset in a record points into that area.
//!
//! Replies (columnar, so that a host builds them with a few list appends):
//! - `status[i]`: the status code in the low 16 bits and a content type code
//!   (`CT_*`) in the high 16 bits; status 0 means "answered later";
//! - `header_lens[i]`: the length of reply `i`'s extra header lines (the
//!   whole column may be absent: no reply has any);
//! - `body_lens[i]`: the length of reply `i`'s body;
//! - `data`: reply 0's header lines, reply 0's body, reply 1's header lines, ...
//!
//! Text replies can leave out both length columns: then `data` holds the
//! bodies separated by single NUL bytes (a host joins its strings with
//! "\0" in one call instead of measuring each).

use super::render::{
    body_allowed, header_field_problem, valid_status, Body, FieldProblem, Response,
};
use super::request::Request;

/// The request was `HEAD`: its response goes out without a body.
pub const FLAG_HEAD: u32 = 1;
/// HTTP/1.1 (otherwise HTTP/1.0).
pub const FLAG_HTTP11: u32 = 2;
/// The target has a `?`: the query follows the path and the `?`.
pub const FLAG_QUERY: u32 = 4;
/// The peer is a Unix socket: `peer_off`/`peer_len` give its path.
pub const FLAG_PEER_UNIX: u32 = 8;
/// The body was not read: it is streamed to whoever reads it
/// ([`super::Request::body_follows`]).
pub const FLAG_BODY_FOLLOWS: u32 = 16;

/// No Content-Type is added (the header lines may carry one).
pub const CT_NONE: u32 = 0;
pub const CT_TEXT: u32 = 1;
pub const CT_JSON: u32 = 2;
pub const CT_HTML: u32 = 3;
pub const CT_OCTET: u32 = 4;

/// The Content-Type line for a `CT_*` code; `None` for an unknown code.
pub fn content_type_line(code: u32) -> Option<&'static [u8]> {
    Some(match code {
        CT_NONE => b"",
        CT_TEXT => b"Content-Type: text/plain; charset=utf-8\r\n",
        CT_JSON => b"Content-Type: application/json\r\n",
        CT_HTML => b"Content-Type: text/html; charset=utf-8\r\n",
        CT_OCTET => b"Content-Type: application/octet-stream\r\n",
        _ => return None,
    })
}

/// One request of a flat batch. Offsets are into the batch's data area.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlatRecord {
    /// The route's tag (batch routes) or 0.
    pub tag: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Identifies the request when it is answered.
    pub id: u64,
    pub method_off: u32,
    pub method_len: u32,
    /// The request target as sent: the path, then `?` and the query if any
    /// (for an absolute-form target, the part after its authority, with
    /// `/` for an empty path).
    pub target_off: u32,
    pub target_len: u32,
    /// Bytes of the target that are the path.
    pub path_len: u32,
    pub header_count: u32,
    /// Offset of `header_count` [`FlatHeader`]s (4-byte aligned).
    pub headers_off: u32,
    pub body_off: u32,
    pub body_len: u32,
    /// A number identifying the connection (stable while it is open).
    pub conn: u32,
    /// The peer's host (an IP address as text, or a Unix socket's path);
    /// `peer_len` 0 when unknown.
    pub peer_off: u32,
    pub peer_len: u16,
    /// The peer's port (0 for a Unix socket or when unknown).
    pub peer_port: u16,
}

/// One header field of a flat request.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlatHeader {
    pub name_off: u32,
    pub name_len: u32,
    pub value_off: u32,
    pub value_len: u32,
}

const _: () = assert!(std::mem::size_of::<FlatRecord>() == 64);
const _: () = assert!(std::mem::size_of::<FlatHeader>() == 16);

/// A batch of requests under construction. Reused between batches, so
/// steady-state batching allocates nothing.
#[derive(Default)]
pub struct FlatBatch {
    records: Vec<FlatRecord>,
    data: Vec<u8>,
}

/// Data areas stay below this, so that offsets fit in 32 bits with room.
const MAX_DATA: usize = 1 << 31;

impl FlatBatch {
    pub fn clear(&mut self) {
        self.records.clear();
        self.data.clear();
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn records(&self) -> &[FlatRecord] {
        &self.records
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Appends `req`. Returns false (and appends nothing) when the data area
    /// would grow past its limit; the caller answers that request otherwise.
    pub fn push(
        &mut self,
        tag: u32,
        id: u64,
        conn: u32,
        head_only: bool,
        req: &Request<'_>,
    ) -> bool {
        let region = req.region;
        let peer = req.peer.map_or(&[][..], |p| p.host());
        let need = region.len() + 3 + 16 * req.headers.len() + peer.len() + req.target.len() + 2;
        if self.data.len() + need > MAX_DATA {
            return false;
        }
        let base = self.data.len();
        self.data.extend_from_slice(region);
        // every slice of `req` lies inside `region` (see `Request::region`)
        let start = region.as_ptr() as usize;
        let off = |s: &[u8]| (base + (s.as_ptr() as usize - start)) as u32;
        while self.data.len() % 4 != 0 {
            self.data.push(0);
        }
        let headers_off = self.data.len() as u32;
        for h in req.headers {
            let (n, v) = (h.name(), h.value());
            let e = [off(n), n.len() as u32, off(v), v.len() as u32];
            let mut b = [0u8; 16];
            for (d, x) in b.chunks_exact_mut(4).zip(e) {
                d.copy_from_slice(&x.to_le_bytes());
            }
            self.data.extend_from_slice(&b);
        }
        let peer_off = self.data.len() as u32;
        self.data.extend_from_slice(peer);
        // the record's target is the path, then `?` and the query: an
        // absolute-form target's part after its authority (which is in Host)
        let (target_off, target_len) = if req.path.as_ptr() == req.target.as_ptr() {
            (off(req.target), req.target.len() as u32)
        } else {
            let from = self.data.len();
            self.data.extend_from_slice(req.path);
            if let Some(q) = req.query {
                self.data.push(b'?');
                self.data.extend_from_slice(q);
            }
            (from as u32, (self.data.len() - from) as u32)
        };
        let mut flags = 0;
        if req.peer.is_some_and(|p| p.is_unix()) {
            flags |= FLAG_PEER_UNIX;
        }
        if head_only {
            flags |= FLAG_HEAD;
        }
        if req.minor_version >= 1 {
            flags |= FLAG_HTTP11;
        }
        if req.query.is_some() {
            flags |= FLAG_QUERY;
        }
        if req.body_follows {
            flags |= FLAG_BODY_FOLLOWS;
        }
        self.records.push(FlatRecord {
            tag,
            flags,
            id,
            method_off: off(req.method),
            method_len: req.method.len() as u32,
            target_off,
            target_len,
            path_len: req.path.len() as u32,
            header_count: req.headers.len() as u32,
            headers_off,
            body_off: off(req.body),
            body_len: req.body.len() as u32,
            conn,
            peer_off,
            peer_len: peer.len().min(u16::MAX as usize) as u16,
            peer_port: req.peer.map_or(0, |p| p.port()),
        });
        true
    }
}

/// A batch packed into one block of 8-byte words: the records, then the data
/// area, so that a host copies both at once.
pub struct Packed<'b> {
    pub records: &'b [FlatRecord],
    pub data: &'b [u8],
}

/// Copies `records` and `data` into `block`, back to back.
pub fn pack<'b>(records: &[FlatRecord], data: &[u8], block: &'b mut Vec<u64>) -> Packed<'b> {
    let rec_bytes = std::mem::size_of_val(records);
    block.clear();
    block.resize((rec_bytes + data.len()).div_ceil(8), 0);
    let base = block.as_mut_ptr().cast::<u8>();
    // SAFETY: `block` holds at least `rec_bytes + data.len()` bytes, is
    // 8-byte aligned like `FlatRecord`, and overlaps neither source. The
    // records are plain integers, so their bytes are a valid copy, and both
    // slices borrow `block` for `'b` without mutation.
    unsafe {
        std::ptr::copy_nonoverlapping(records.as_ptr().cast::<u8>(), base, rec_bytes);
        std::ptr::copy_nonoverlapping(data.as_ptr(), base.add(rec_bytes), data.len());
        Packed {
            records: std::slice::from_raw_parts(base.cast(), records.len()),
            data: std::slice::from_raw_parts(base.add(rec_bytes), data.len()),
        }
    }
}

impl FlatBatch {
    /// [`pack`] of this batch.
    pub fn pack<'b>(&self, block: &'b mut Vec<u64>) -> Packed<'b> {
        pack(&self.records, &self.data, block)
    }
}

/// Why a set of replies was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// `lens` is not twice as long as `status`, or the lengths do not add up
    /// to the data's length.
    Shape,
    /// More replies than requests.
    TooMany,
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReplyError::Shape => "the reply columns' lengths do not add up",
            ReplyError::TooMany => "more replies than requests",
        })
    }
}

impl std::error::Error for ReplyError {}

/// One reply, read from the columnar form.
#[derive(Clone, Copy, Debug)]
pub struct Reply<'a> {
    /// 0: answered later.
    pub status: u16,
    pub content_type: u32,
    pub headers: &'a [u8],
    pub body: &'a [u8],
}

impl<'a> Reply<'a> {
    /// The response this reply stands for, its header lines built in
    /// `scratch`; an invalid status, content type or header line, or a body
    /// for a status that has none, gives 500.
    pub fn to_response<'s>(&self, scratch: &'s mut Vec<u8>) -> Response<'s>
    where
        'a: 's,
    {
        if valid_status(self.status)
            && (self.body.is_empty() || body_allowed(self.status))
            && reply_headers(scratch, self)
        {
            Response {
                status: self.status,
                headers: scratch,
                body: Body::Copy(self.body),
            }
        } else {
            Response::empty(500)
        }
    }
}

/// A columnar set of replies (see the module comment).
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    pub status: &'a [u32],
    /// Empty: no reply has header lines.
    pub header_lens: &'a [u32],
    /// Empty (with `header_lens` empty): the bodies are NUL-separated.
    pub body_lens: &'a [u32],
    pub data: &'a [u8],
}

impl<'a> Columns<'a> {
    /// Checks the shape: the columns have one entry per reply (or none for
    /// `header_lens`), and the lengths add up to the data's length.
    pub fn check(&self) -> Result<(), ReplyError> {
        let n = self.status.len();
        if self.nul_separated() {
            let seps = self.data.iter().filter(|&&b| b == 0).count();
            return match n {
                0 if self.data.is_empty() => Ok(()),
                _ if n > 0 && seps == n - 1 => Ok(()),
                _ => Err(ReplyError::Shape),
            };
        }
        if self.body_lens.len() != n
            || !(self.header_lens.is_empty() || self.header_lens.len() == n)
        {
            return Err(ReplyError::Shape);
        }
        let sum = |l: &[u32]| l.iter().try_fold(0usize, |a, &x| a.checked_add(x as usize));
        let total =
            sum(self.header_lens).and_then(|h| sum(self.body_lens).and_then(|b| h.checked_add(b)));
        if total != Some(self.data.len()) {
            return Err(ReplyError::Shape);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.status.len()
    }

    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
    }

    fn nul_separated(&self) -> bool {
        self.body_lens.is_empty() && self.header_lens.is_empty() && !self.status.is_empty()
    }

    /// The replies, in order. Call [`Columns::check`] first: a set of the
    /// wrong shape panics.
    pub fn iter(self) -> impl Iterator<Item = Reply<'a>> + 'a {
        let mut pos = 0usize;
        let nul = self.nul_separated();
        (0..self.status.len()).map(move |i| {
            let hl = self.header_lens.get(i).copied().unwrap_or(0) as usize;
            let h = &self.data[pos..pos + hl];
            pos += hl;
            let blen = match nul {
                false => self.body_lens[i] as usize,
                true => self.data[pos..]
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(self.data.len() - pos),
            };
            let b = &self.data[pos..pos + blen];
            pos += blen + nul as usize;
            let s = self.status[i];
            Reply {
                status: (s & 0xffff) as u16,
                content_type: s >> 16,
                headers: h,
                body: b,
            }
        })
    }
}

/// Why a block of header lines was refused: the line in question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineProblem<'a> {
    /// The rest of the block, which does not end with CRLF.
    NoCrlf(&'a [u8]),
    NoColon(&'a [u8]),
    /// The line's name and value, and what is wrong with them.
    Field(&'a [u8], &'a [u8], FieldProblem),
}

/// What is wrong with `block`, unless it is zero or more `Name: value\r\n`
/// lines that a host may add (see [`header_field_problem`]).
pub fn header_lines_problem(block: &[u8]) -> Option<LineProblem<'_>> {
    let mut rest = block;
    while !rest.is_empty() {
        let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Some(LineProblem::NoCrlf(rest));
        };
        let line = &rest[..end];
        rest = &rest[end + 2..];
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Some(LineProblem::NoColon(line));
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if let Some(p) = header_field_problem(name, value) {
            return Some(LineProblem::Field(name, value, p));
        }
    }
    None
}

/// Whether `block` is zero or more `Name: value\r\n` lines that a host may
/// add.
pub fn valid_header_lines(block: &[u8]) -> bool {
    header_lines_problem(block).is_none()
}

/// Builds the extra header lines of a reply into `dst`: the content type line,
/// then the host's lines. Returns false (leaving `dst` empty) when the reply's
/// content type code or header lines are invalid.
pub fn reply_headers(dst: &mut Vec<u8>, r: &Reply<'_>) -> bool {
    dst.clear();
    let Some(ct) = content_type_line(r.content_type) else {
        return false;
    };
    if !r.headers.is_empty() && !valid_header_lines(r.headers) {
        return false;
    }
    dst.extend_from_slice(ct);
    dst.extend_from_slice(r.headers);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip() {
        let status = [200 | (CT_TEXT << 16), 0, 404];
        let c = Columns {
            status: &status,
            header_lens: &[0, 0, 6],
            body_lens: &[5, 0, 2],
            data: b"helloX: y\r\nno",
        };
        assert!(c.check().is_ok());
        let r: Vec<_> = c.iter().collect();
        assert_eq!(
            (r[0].status, r[0].content_type, r[0].body),
            (200, CT_TEXT, &b"hello"[..])
        );
        assert_eq!(r[1].status, 0);
        assert_eq!((r[2].headers, r[2].body), (&b"X: y\r\n"[..], &b"no"[..]));
        assert_eq!(
            Columns {
                header_lens: &[0, 0],
                ..c
            }
            .check(),
            Err(ReplyError::Shape)
        );
        assert_eq!(
            Columns {
                data: b"hello",
                ..c
            }
            .check(),
            Err(ReplyError::Shape)
        );
        let no_headers = Columns {
            header_lens: &[],
            body_lens: &[5, 0, 8],
            ..c
        };
        assert!(no_headers.check().is_ok());
        assert_eq!(no_headers.iter().nth(2).unwrap().body, b"X: y\r\nno");
        let nul = Columns {
            header_lens: &[],
            body_lens: &[],
            data: b"hello\0\0X: y\r\nno",
            ..c
        };
        assert!(nul.check().is_ok());
        let bodies: Vec<_> = nul.iter().map(|r| r.body).collect();
        assert_eq!(bodies, [&b"hello"[..], b"", b"X: y\r\nno"]);
        assert_eq!(
            Columns {
                data: b"a\0b",
                ..nul
            }
            .check(),
            Err(ReplyError::Shape)
        );
        assert_eq!(
            Columns {
                data: b"a\0b\0c\0",
                ..nul
            }
            .check(),
            Err(ReplyError::Shape)
        );
    }

    #[test]
    fn header_lines_are_checked() {
        assert!(valid_header_lines(b""));
        assert!(valid_header_lines(b"X-A: 1\r\nSet-Cookie: a=b; Path=/\r\n"));
        assert!(!valid_header_lines(b"X-A: 1"));
        assert!(!valid_header_lines(b"X-A: 1\r\nEvil\r\n"));
        assert!(!valid_header_lines(b"X A: 1\r\n"));
        assert!(!valid_header_lines(b"X-A: 1\nInjected: 2\r\n"));
        assert!(!valid_header_lines(b"Content-Length: 3\r\n"));
        assert!(!valid_header_lines(b"connection: close\r\n"));
    }
}
