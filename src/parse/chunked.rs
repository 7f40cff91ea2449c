//! In-place decoder for `Transfer-Encoding: chunked` bodies.

use super::scan::TOKEN;
use super::{Error, Mode};

const SIZE: u8 = 0;
const EXT: u8 = 1;
const SIZE_LF: u8 = 2;
const DATA: u8 = 3;
const DATA_CR: u8 = 4;
const DATA_LF: u8 = 5;
const TRAILER_HEAD: u8 = 6;
const TRAILER_MIDDLE: u8 = 7;
// strict mode only: a trailer line's CR was seen, LF must follow
const TRAILER_HEAD_LF: u8 = 8;
const TRAILER_MIDDLE_LF: u8 = 9;
// strict mode only: a trailer field's name, up to its colon
const TRAILER_NAME: u8 = 10;

/// Framing overhead past which a mostly-overhead stream is refused (as pico).
const OVERHEAD_LIMIT: u64 = 100 * 1024;

/// Decoder state. Zero-initialise it (or use `Default`) before the first call.
///
/// Its layout is picohttpparser's `struct phr_chunked_decoder` (32 bytes on
/// x86_64), so the `phr_decode_chunked` export uses it directly.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkedDecoder {
    /// Bytes left in the chunk being read.
    pub bytes_left_in_chunk: usize,
    /// Non-zero: read and drop the trailer section too.
    pub consume_trailer: u8,
    hex_count: u8,
    state: u8,
    total_read: u64,
    total_overhead: u64,
}

/// Progress of one [`ChunkedDecoder::decode`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// More input is needed. `len` bytes of data now sit at the buffer's start.
    Partial { len: usize },
    /// The body ended. `len` data bytes sit at the start, followed directly by
    /// the `rest` bytes of input that came after the body.
    Complete { len: usize, rest: usize },
}

#[inline]
fn hex(b: u8) -> Option<usize> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as usize),
        b'a'..=b'f' => Some((b - b'a' + 10) as usize),
        b'A'..=b'F' => Some((b - b'A' + 10) as usize),
        _ => None,
    }
}

impl ChunkedDecoder {
    pub fn new(consume_trailer: bool) -> Self {
        ChunkedDecoder {
            consume_trailer: consume_trailer as u8,
            ..Default::default()
        }
    }

    /// Bytes of trailer section read so far (strict mode; 0 in pico mode,
    /// whose struct keeps picohttpparser's meaning of every field). A caller
    /// holds it against its header size limit.
    pub fn trailer_len(&self) -> usize {
        if self.state >= TRAILER_HEAD {
            self.bytes_left_in_chunk
        } else {
            0
        }
    }

    /// True while the decoder is inside chunk data (as `phr_decode_chunked_is_in_data`).
    pub fn is_in_data(&self) -> bool {
        self.state == DATA
    }

    /// Decodes `buf` in place, continuing from earlier calls.
    pub fn decode(&mut self, buf: &mut [u8], mode: Mode) -> Result<Decoded, Error> {
        let (len, r) = self.decode_raw(buf, mode == Mode::Strict);
        r.map(|rest| match rest {
            Some(rest) => Decoded::Complete { len, rest },
            None => Decoded::Partial { len },
        })
    }

    /// The decoder proper: returns the decoded length (valid in every outcome)
    /// and the bytes after the body once complete.
    pub(crate) fn decode_raw(
        &mut self,
        buf: &mut [u8],
        strict: bool,
    ) -> (usize, Result<Option<usize>, Error>) {
        let n = buf.len();
        let (mut src, mut dst) = (0usize, 0usize);
        self.total_read += n as u64;
        // where this call's trailer bytes start, if it reads any
        let mut trailer_from = (self.state >= TRAILER_HEAD).then_some(0);

        let r: Result<Option<usize>, Error> = 'run: loop {
            match self.state {
                SIZE => {
                    loop {
                        let Some(&b) = buf.get(src) else {
                            break 'run Ok(None);
                        };
                        match hex(b) {
                            Some(v) => {
                                if self.hex_count as usize == 2 * core::mem::size_of::<usize>() {
                                    break 'run Err(Error::ChunkSize);
                                }
                                self.bytes_left_in_chunk = self.bytes_left_in_chunk * 16 + v;
                                self.hex_count += 1;
                                src += 1;
                            }
                            None if self.hex_count == 0 => break 'run Err(Error::ChunkSize),
                            None if matches!(b, b' ' | b'\t' | b';' | b'\r' | b'\n') => break,
                            None => break 'run Err(Error::ChunkSize),
                        }
                    }
                    self.hex_count = 0;
                    self.state = EXT;
                }
                EXT => {
                    loop {
                        let Some(&b) = buf.get(src) else {
                            break 'run Ok(None);
                        };
                        src += 1;
                        match b {
                            b'\r' => break,
                            b'\n' => break 'run Err(Error::ChunkSize),
                            _ if strict && ((b < 0x20 && b != b'\t') || b == 0x7f) => {
                                break 'run Err(Error::ChunkSize)
                            }
                            _ => {}
                        }
                    }
                    self.state = SIZE_LF;
                }
                SIZE_LF => {
                    let Some(&b) = buf.get(src) else {
                        break 'run Ok(None);
                    };
                    if b != b'\n' {
                        break 'run Err(Error::ChunkSize);
                    }
                    src += 1;
                    if self.bytes_left_in_chunk == 0 {
                        if self.consume_trailer == 0 {
                            break 'run Ok(Some(n - src));
                        }
                        self.state = TRAILER_HEAD;
                        trailer_from = Some(src);
                    } else {
                        self.state = DATA;
                    }
                }
                DATA => {
                    let avail = n - src;
                    let take = avail.min(self.bytes_left_in_chunk);
                    if dst != src {
                        buf.copy_within(src..src + take, dst);
                    }
                    src += take;
                    dst += take;
                    self.bytes_left_in_chunk -= take;
                    if self.bytes_left_in_chunk != 0 {
                        break 'run Ok(None);
                    }
                    self.state = DATA_CR;
                }
                DATA_CR | DATA_LF => {
                    let Some(&b) = buf.get(src) else {
                        break 'run Ok(None);
                    };
                    let want = if self.state == DATA_CR { b'\r' } else { b'\n' };
                    if b != want {
                        break 'run Err(Error::ChunkData);
                    }
                    src += 1;
                    self.state = if self.state == DATA_CR { DATA_LF } else { SIZE };
                }
                TRAILER_HEAD => {
                    if strict {
                        let Some(&b) = buf.get(src) else {
                            break 'run Ok(None);
                        };
                        src += 1;
                        // a trailer field is a header field: a token, then a
                        // colon; no obs-fold, no whitespace before the colon
                        match b {
                            b'\r' => self.state = TRAILER_HEAD_LF,
                            b'\n' => break 'run Err(Error::NewLine),
                            _ if TOKEN[b as usize] => self.state = TRAILER_NAME,
                            _ => break 'run Err(Error::HeaderName),
                        }
                        continue;
                    }
                    while buf.get(src) == Some(&b'\r') {
                        src += 1;
                    }
                    let Some(&b) = buf.get(src) else {
                        break 'run Ok(None);
                    };
                    src += 1;
                    if b == b'\n' {
                        break 'run Ok(Some(n - src));
                    }
                    self.state = TRAILER_MIDDLE;
                }
                TRAILER_MIDDLE => {
                    loop {
                        let Some(&b) = buf.get(src) else {
                            break 'run Ok(None);
                        };
                        src += 1;
                        if !strict {
                            if b == b'\n' {
                                break;
                            }
                        } else if b == b'\r' {
                            self.state = TRAILER_MIDDLE_LF;
                            continue 'run;
                        } else if (b < 0x20 && b != b'\t') || b == 0x7f {
                            break 'run Err(Error::HeaderValue);
                        }
                    }
                    self.state = TRAILER_HEAD;
                }
                TRAILER_NAME => {
                    loop {
                        let Some(&b) = buf.get(src) else {
                            break 'run Ok(None);
                        };
                        src += 1;
                        match b {
                            b':' => break,
                            _ if TOKEN[b as usize] => {}
                            _ => break 'run Err(Error::HeaderName),
                        }
                    }
                    self.state = TRAILER_MIDDLE;
                }
                TRAILER_HEAD_LF | TRAILER_MIDDLE_LF => {
                    let Some(&b) = buf.get(src) else {
                        break 'run Ok(None);
                    };
                    src += 1;
                    if b != b'\n' {
                        break 'run Err(Error::NewLine);
                    }
                    if self.state == TRAILER_HEAD_LF {
                        break 'run Ok(Some(n - src));
                    }
                    self.state = TRAILER_HEAD;
                }
                _ => break 'run Err(Error::ChunkSize), // corrupt state from C
            }
        };

        if let (Some(t), true) = (trailer_from, strict) {
            self.bytes_left_in_chunk += src - t;
        }
        if dst != src {
            buf.copy_within(src..n, dst);
        }
        if let Ok(None) = r {
            self.total_overhead += (n - dst) as u64;
            if self.total_overhead >= OVERHEAD_LIMIT
                && self.total_read - self.total_overhead < self.total_read / 4
            {
                return (dst, Err(Error::ChunkOverhead));
            }
        }
        (dst, r)
    }
}
