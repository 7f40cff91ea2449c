//! No kernel reads past the end of its input: every input ends right before a
//! PROT_NONE page, so a read beyond it faults and kills the test.

mod support {
    pub mod fuzz_checks;
}

use fastserve::parse::{
    parse_headers, parse_request, parse_response, ChunkedDecoder, Config, Header, Kernel, Mode,
};

struct Guarded {
    base: *mut u8,
    page: usize,
}

impl Guarded {
    fn new() -> Self {
        // SAFETY: plain anonymous mapping of two pages; the second is made
        // inaccessible. Both calls are checked.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
            let base = libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(base, libc::MAP_FAILED);
            assert_eq!(
                libc::mprotect(base.cast::<u8>().add(page).cast(), page, libc::PROT_NONE),
                0
            );
            Guarded {
                base: base.cast(),
                page,
            }
        }
    }

    /// `data` copied so that its last byte is the last readable byte.
    fn place(&mut self, data: &[u8]) -> &mut [u8] {
        assert!(data.len() <= self.page);
        // SAFETY: the range lies inside the first (readable, writable) page.
        unsafe {
            let start = self.base.add(self.page - data.len());
            std::ptr::copy_nonoverlapping(data.as_ptr(), start, data.len());
            std::slice::from_raw_parts_mut(start, data.len())
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped.
        unsafe { libc::munmap(self.base.cast(), 2 * self.page) };
    }
}

#[test]
fn no_read_past_the_end() {
    let mut g = Guarded::new();
    let msgs: [&[u8]; 4] = [
        b"GET /a/very/long/path/that/spans/more/than/thirty/two/bytes?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: a user agent string longer than thirty-two bytes\r\nX-Token-Name-Longer-Than-Thirty-Two-Bytes: v\r\n\r\n",
        b"HTTP/1.1 200 A reason phrase that is longer than thirty-two bytes\r\nContent-Length: 0\r\n\r\n",
        b"Header-Name-That-Is-Long-Enough-For-Vectors: value value value value value value\r\n\r\n",
        b"20\r\n0123456789abcdef0123456789abcdef\r\n0\r\nTrailer-Field: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n",
    ];
    for k in Kernel::supported() {
        for mode in [Mode::Strict, Mode::Pico] {
            let cfg = Config {
                mode,
                kernel: Some(k),
            };
            for (i, msg) in msgs.iter().enumerate() {
                // every prefix, and the bytes of every suffix too
                for n in 0..=msg.len() {
                    for data in [&msg[..n], &msg[msg.len() - n..]] {
                        let buf = g.place(data);
                        let mut h = [Header::EMPTY; 8];
                        match i {
                            0 => drop(parse_request(buf, &mut h, &cfg)),
                            1 => drop(parse_response(buf, &mut h, &cfg)),
                            2 => drop(parse_headers(buf, &mut h, &cfg)),
                            _ => drop(ChunkedDecoder::new(true).decode(buf, mode)),
                        }
                    }
                }
            }
        }
    }
}
