//! Streamed response bodies: how the head announces the body, and how each
//! piece is framed on the wire.

use std::fmt;

/// How a streamed body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length` was announced; this many bytes are still owed.
    Length { left: usize },
    /// `Transfer-Encoding: chunked` (HTTP/1.1 without a length).
    Chunked,
    /// HTTP/1.0 without a length: the body ends when the connection closes.
    Close,
    /// No body goes out: HEAD (pieces are dropped), 204 and 304 (pieces
    /// are refused).
    Discard { refuse: bool },
}

/// What the head says about a streamed body.
pub(crate) struct Head {
    pub(crate) framing: Framing,
    pub(crate) content_length: Option<usize>,
    pub(crate) chunked: bool,
}

/// The framing of a stream answering a request of HTTP/1.`minor`.
pub(crate) fn head(status: u16, head_only: bool, len: Option<usize>, minor: u8) -> Head {
    if matches!(status, 204 | 304) {
        return Head {
            framing: Framing::Discard { refuse: true },
            content_length: None,
            chunked: false,
        };
    }
    let (framing, chunked) = match len {
        Some(left) => (Framing::Length { left }, false),
        None if minor >= 1 => (Framing::Chunked, true),
        None => (Framing::Close, false),
    };
    Head {
        framing: if head_only {
            Framing::Discard { refuse: false }
        } else {
            framing
        },
        content_length: len,
        chunked,
    }
}

/// Why a stream call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// No such stream is open on the connection (ended, or never started).
    Unknown,
    /// More bytes than the announced `Content-Length`.
    TooLong,
    /// Fewer bytes than the announced `Content-Length` at the end: the
    /// connection is closed after what was sent, so the client sees the cut.
    TooShort,
    /// A 204 or 304 response has no body.
    NoBody,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamError::Unknown => "no such stream is open on the connection",
            StreamError::TooLong => "the data goes past the announced Content-Length",
            StreamError::TooShort => {
                "the stream ended before its announced Content-Length; the connection closes"
            }
            StreamError::NoBody => "a 204 or 304 response has no body",
        })
    }
}

impl std::error::Error for StreamError {}

/// The bytes that go before a piece of body: the chunk-size line when
/// chunked, else nothing.
#[derive(Default)]
pub(crate) struct Pre {
    buf: [u8; 18],
    len: usize,
}

impl Pre {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Accounts for a piece of `n` bytes. Returns what goes before it, or
/// `None` when the piece does not go out.
pub(crate) fn piece(framing: &mut Framing, n: usize) -> Result<Option<Pre>, StreamError> {
    match framing {
        Framing::Discard { refuse: true } if n > 0 => Err(StreamError::NoBody),
        Framing::Discard { .. } => Ok(None),
        Framing::Length { left } => {
            if n > *left {
                return Err(StreamError::TooLong);
            }
            *left -= n;
            Ok((n > 0).then(Pre::default))
        }
        Framing::Close => Ok((n > 0).then(Pre::default)),
        // an empty chunk would end the body
        Framing::Chunked if n == 0 => Ok(None),
        Framing::Chunked => {
            let mut pre = Pre::default();
            let mut tmp = [0u8; 16];
            let mut i = tmp.len();
            let mut v = n;
            loop {
                i -= 1;
                tmp[i] = b"0123456789abcdef"[v & 15];
                v >>= 4;
                if v == 0 {
                    break;
                }
            }
            let digits = tmp.len() - i;
            pre.buf[..digits].copy_from_slice(&tmp[i..]);
            pre.buf[digits..digits + 2].copy_from_slice(b"\r\n");
            pre.len = digits + 2;
            Ok(Some(pre))
        }
    }
}

/// What ends the body: the last chunk and the trailer section when chunked.
/// `trailers` holds complete `Name: value\r\n` lines.
pub(crate) fn end(framing: Framing, trailers: &[u8], dst: &mut Vec<u8>) -> Result<(), StreamError> {
    match framing {
        Framing::Length { left } if left > 0 => Err(StreamError::TooShort),
        Framing::Chunked => {
            dst.extend_from_slice(b"0\r\n");
            dst.extend_from_slice(trailers);
            dst.extend_from_slice(b"\r\n");
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_by_version_length_and_method() {
        assert_eq!(head(200, false, None, 1).framing, Framing::Chunked);
        assert!(head(200, false, None, 1).chunked);
        assert_eq!(head(200, false, None, 0).framing, Framing::Close);
        assert_eq!(
            head(200, false, Some(5), 0).framing,
            Framing::Length { left: 5 }
        );
        let h = head(200, true, None, 1);
        assert_eq!(h.framing, Framing::Discard { refuse: false });
        assert!(h.chunked, "HEAD announces what GET would send");
        let h = head(204, false, Some(3), 1);
        assert_eq!(h.framing, Framing::Discard { refuse: true });
        assert_eq!(h.content_length, None);
    }

    #[test]
    fn pieces_and_ends() {
        let pre = |f: &mut Framing, n| piece(f, n).map(|p| p.map(|p| p.as_slice().to_vec()));
        let mut f = Framing::Chunked;
        assert_eq!(pre(&mut f, 300), Ok(Some(b"12c\r\n".to_vec())));
        assert_eq!(pre(&mut f, usize::MAX).unwrap().unwrap().len(), 18);
        assert_eq!(pre(&mut f, 0), Ok(None));
        let mut tail = Vec::new();
        end(f, b"X-Sum: 1\r\n", &mut tail).unwrap();
        assert_eq!(tail, b"0\r\nX-Sum: 1\r\n\r\n");

        let mut f = Framing::Length { left: 4 };
        assert_eq!(pre(&mut f, 3), Ok(Some(vec![])));
        assert_eq!(pre(&mut f, 2), Err(StreamError::TooLong));
        assert_eq!(end(f, b"", &mut tail), Err(StreamError::TooShort));
        assert_eq!(pre(&mut f, 1), Ok(Some(vec![])));
        assert_eq!(end(f, b"", &mut tail), Ok(()));

        let mut f = Framing::Discard { refuse: true };
        assert_eq!(pre(&mut f, 1), Err(StreamError::NoBody));
        assert_eq!(pre(&mut f, 0), Ok(None));
        let mut f = Framing::Discard { refuse: false };
        assert_eq!(pre(&mut f, 9), Ok(None));
    }
}
