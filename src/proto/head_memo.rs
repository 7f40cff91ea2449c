//! The head of a worker's last answer with a copied body (a handler's, a
//! batch's, a deferred one's), copied for the next answer that would render
//! the same, the date written in.

use super::bytes::same;
use super::date::DATE_LEN;
use super::framing::{self, ConnHeader};
use super::render::{copy_short, head_and, Put};

/// The head of the last response rendered through it, kept by a worker
/// for its handlers' responses: a response with the same status, `Server`,
/// connection field, caller's fields and a `Content-Length` (or none, the
/// same) gets a copy of those bytes with the current date written over the
/// copy's, rather than a new rendering. A length of another value is
/// rendered between the copy's two parts. Anything else renders anew and
/// becomes the memo.
///
/// `Server`'s value is known by its address: a worker's is its
/// configuration's, which neither moves nor changes while it runs.
#[derive(Default)]
pub struct HeadMemo {
    /// The head, from the status line to the blank line.
    head: Vec<u8>,
    /// Status, connection field and whether a length is sent (`key`); 0
    /// until a head is kept.
    key: u32,
    /// `Server`'s address and length; (0, 0) for none.
    server: (usize, usize),
    date_at: usize,
    /// The length sent, and where its digits are in `head` and how many.
    length: usize,
    digits_at: usize,
    digits: usize,
    /// Where the caller's fields start in `head`, and their length.
    fields_at: usize,
    fields: usize,
}

/// The longest head a [`HeadMemo`] keeps: a worker holds no more for it.
const MEMO_MAX: usize = 4096;

/// What a memo's head depends on, besides `Server`, the fields and the
/// length's value; never 0.
#[inline(always)]
fn memo_key(status: u16, conn: ConnHeader, length: Option<usize>) -> u32 {
    u32::from(status) | (conn as u32) << 16 | u32::from(length.is_some()) << 24 | 1 << 25
}

#[inline(always)]
fn server_key(server: Option<&[u8]>) -> (usize, usize) {
    server.map_or((0, 0), |s| (s.as_ptr() as usize, s.len()))
}

impl HeadMemo {
    /// Keeps `head`, just rendered for `key`, `server` and `extra`, with
    /// its date at `date_at` and `length`'s digits, if any.
    #[cold]
    fn keep(
        &mut self,
        head: &[u8],
        key: u32,
        server: Option<&[u8]>,
        length: Option<usize>,
        extra: &[u8],
        date_at: usize,
    ) {
        if head.len() > MEMO_MAX {
            self.key = 0; // fits nothing
            return;
        }
        self.head.clear();
        self.head.extend_from_slice(head);
        self.key = key;
        self.server = server_key(server);
        self.date_at = date_at;
        self.length = length.unwrap_or(0);
        self.digits_at = date_at + DATE_LEN + b"\r\nContent-Length: ".len();
        self.digits = length.map_or(0, digits);
        self.fields = extra.len();
        self.fields_at = head.len() - 2 - extra.len();
    }
}

/// How many decimal digits `n` has.
fn digits(n: usize) -> usize {
    let mut len = 1;
    let mut rest = n / 10;
    while rest > 0 {
        len += 1;
        rest /= 10;
    }
    len
}

/// `response_memo` when the memo does not fit: renders the head and keeps
/// it. Out of line, so that a copy costs no more than it does.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn render_and_keep(
    dst: &mut Vec<u8>,
    memo: &mut HeadMemo,
    key: u32,
    status: u16,
    extra: &[u8],
    body: &[u8],
    server: Option<&[u8]>,
    date: &[u8; DATE_LEN],
    conn: ConnHeader,
    length: Option<usize>,
) {
    let start = dst.len();
    let date_at = head_and(dst, status, server, date, length, conn, extra, body);
    let end = dst.len() - body.len();
    memo.keep(
        &dst[start..end],
        key,
        server,
        length,
        extra,
        date_at - start,
    );
}

/// Renders a response with a copied body, as `render::response` does, through
/// `memo`: its head is copied from the memo when it fits, else rendered
/// and kept there.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn response_memo(
    dst: &mut Vec<u8>,
    memo: &mut HeadMemo,
    status: u16,
    extra: &[u8],
    body: &[u8],
    server: Option<&[u8]>,
    date: &[u8; DATE_LEN],
    conn: ConnHeader,
    head_only: bool,
) {
    let f = framing::response(status, head_only, body.len());
    let body = if f.send_body { body } else { b"" };
    let key = memo_key(status, conn, f.content_length);
    let fits = memo.key == key
        && memo.server == server_key(server)
        && memo.fields == extra.len()
        && memo
            .head
            .get(memo.fields_at..memo.fields_at + extra.len())
            .is_some_and(|m| same(m, extra));
    if !fits {
        let length = f.content_length;
        return render_and_keep(
            dst, memo, key, status, extra, body, server, date, conn, length,
        );
    }
    let h = &memo.head[..];
    dst.reserve(h.len() + 20 + body.len());
    let start = dst.len();
    // SAFETY: room for the head, a length of up to 20 digits in place of
    // the memo's, and the body was reserved past `start`; the memo's date
    // is within its head (`keep`), which is copied before the date is
    // written over it; `set_len` covers only written bytes.
    unsafe {
        let base = dst.as_mut_ptr();
        let mut w = Put(base.add(start));
        match f.content_length {
            Some(n) if n != memo.length => {
                w.bytes(&h[..memo.digits_at]);
                w.num(n);
                w.bytes(&h[memo.digits_at + memo.digits..]);
            }
            _ => w.long(h),
        }
        copy_short(date, base.add(start + memo.date_at));
        w.bytes(body);
        dst.set_len(w.0.offset_from(base) as usize);
    }
}
