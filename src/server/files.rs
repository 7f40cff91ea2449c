//! Files as response bodies, and static directory routes.
//!
//! A directory route maps the rest of a request path below its prefix to a
//! file under its root. The pure steps (path checks, `Range`, conditional
//! requests) are functions of their inputs; the handler opens and stats on
//! the worker thread, as nginx does without aio: a slow disk slows that
//! worker's other connections.
//!
//! Files are opened with `openat2(2)` and `RESOLVE_BENEATH` from the root's
//! descriptor: the kernel refuses every path that leaves the root, through
//! `..` or a symlink, and nothing can swap a component between a check and
//! the open. Kernels without `openat2` get `openat` and a check of the path
//! the opened descriptor has (`/proc/self/fd`).

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use percent_encoding::percent_decode;

use super::response::ResponseBuilder;
use super::router::{Handler, Routed};
use crate::proto::{ExtBody, FileBody, Request};

/// Why a file body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum FileError {
    /// Not a regular file (sendfile needs one), or fstat failed.
    NotRegular,
    /// `offset + length` is past the end of the file.
    OutOfRange { size: u64 },
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::NotRegular => f.write_str("the descriptor is not a regular file"),
            FileError::OutOfRange { size } => {
                write!(f, "the range ends past the end of the file ({size} bytes)")
            }
        }
    }
}

/// A file body of `len` bytes from `offset`, checked against the file's
/// size now. The file is dropped (closed) on error too.
pub fn file_body(file: File, offset: u64, len: u64) -> Result<FileBody, FileError> {
    let meta = file.metadata().map_err(|_| FileError::NotRegular)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular);
    }
    let size = meta.len();
    match offset.checked_add(len) {
        Some(end) if end <= size => {}
        _ => return Err(FileError::OutOfRange { size }),
    }
    let len = usize::try_from(len).map_err(|_| FileError::OutOfRange { size })?;
    Ok(FileBody::new(file, offset, len))
}

/// Options of a directory route.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirOptions {
    /// Serve `index.html` for a directory path (one that ends in `/`; without
    /// the slash, a 301 adds it). Off: directories are 404.
    pub index: bool,
    /// Follow symlinks wherever they lead. Off: a symlink may point only
    /// within the root, and relatively (`RESOLVE_BENEATH` refuses absolute
    /// ones).
    pub follow_symlinks: bool,
}

/// Why a request path maps to no file.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// A path that would leave the root, or names nothing servable: 404.
    NotFound,
    /// Malformed: a bad percent escape, a NUL byte: 400.
    Bad,
}

/// A request path below the route's prefix, checked and decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Relative to the root, without a leading `/`; `.` for the root.
    pub rel: Vec<u8>,
    /// The path ended in `/`.
    pub dir: bool,
}

/// Maps `rest` (the path after the prefix, as sent: percent-encoded) to a
/// path relative to the root. Each segment is decoded on its own, so an
/// encoded `/` cannot join segments; `.`, `..`, and segments holding `/`,
/// `\` or NUL once decoded are refused, as are raw backslashes. Empty
/// segments (`a//b`) are skipped.
pub fn resolve(rest: &[u8]) -> Result<Resolved, Refused> {
    if rest.contains(&0) {
        return Err(Refused::Bad);
    }
    if rest.contains(&b'\\') {
        return Err(Refused::NotFound);
    }
    let rest = match rest {
        [] => b"/".as_slice(),
        [b'/', ..] => rest,
        _ => return Err(Refused::NotFound),
    };
    let mut rel = Vec::with_capacity(rest.len());
    for seg in rest[1..].split(|&b| b == b'/') {
        if seg.is_empty() {
            continue;
        }
        if !well_escaped(seg) {
            return Err(Refused::Bad);
        }
        let d: Vec<u8> = percent_decode(seg).collect();
        if d.contains(&0) {
            return Err(Refused::Bad);
        }
        if d == b"." || d == b".." || d.iter().any(|&b| b == b'/' || b == b'\\') {
            return Err(Refused::NotFound);
        }
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(&d);
    }
    if rel.is_empty() {
        rel.push(b'.');
    }
    Ok(Resolved {
        rel,
        dir: rest.ends_with(b"/"),
    })
}

/// Every `%` starts a two-hex-digit escape (`percent_decode` would let a
/// stray one through as it is).
fn well_escaped(seg: &[u8]) -> bool {
    let mut i = 0;
    while i < seg.len() {
        if seg[i] == b'%' {
            match seg.get(i + 1..i + 3) {
                Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No usable single range (absent, malformed, several ranges, or a
    /// unit other than bytes): the whole file, 200.
    Full,
    /// Bytes `start..=end`, 206.
    Part { start: u64, end: u64 },
    /// No byte of it exists: 416.
    Unsatisfiable,
}

/// Reads `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` (RFC 9110 §14.1.2).
/// Several ranges are answered with the whole file rather than a multipart
/// body; a malformed or reversed (`5-2`) range is ignored, as the RFC allows.
pub fn range(value: &[u8], size: u64) -> RangeAnswer {
    let v = value.trim_ascii();
    let Some(spec) = v
        .get(..6)
        .filter(|u| u.eq_ignore_ascii_case(b"bytes="))
        .map(|_| v[6..].trim_ascii())
    else {
        return RangeAnswer::Full;
    };
    if spec.contains(&b',') {
        return RangeAnswer::Full;
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (num(first), num(last)) {
        (Some(a), Some(b)) if a > b => RangeAnswer::Full,
        (Some(a), _) if a >= size => {
            if last.is_empty() || num(last).is_some() {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Full
            }
        }
        (Some(a), Some(b)) => RangeAnswer::Part {
            start: a,
            end: b.min(size - 1),
        },
        (Some(a), None) if last.is_empty() => RangeAnswer::Part {
            start: a,
            end: size - 1,
        },
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || size == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Part {
                    start: size - n.min(size),
                    end: size - 1,
                }
            }
        }
        _ => RangeAnswer::Full,
    }
}

/// A decimal without sign or spaces that fits in a u64.
fn num(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// A file's validators: an nginx-style ETag (mtime and size in hex) and
/// its modification time in whole seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    pub etag: String,
    pub mtime: u64,
}

impl Validators {
    pub fn new(size: u64, mtime: u64) -> Self {
        Validators {
            etag: format!("\"{mtime:x}-{size:x}\""),
            mtime,
        }
    }

    pub fn last_modified(&self) -> String {
        httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(self.mtime))
    }

    /// Whether the client's copy is current (RFC 9110 §13.2.2): by
    /// `If-None-Match` when sent (weak comparison, `*` matches), else by
    /// `If-Modified-Since`.
    pub fn not_modified(
        &self,
        if_none_match: Option<&[u8]>,
        if_modified_since: Option<&[u8]>,
    ) -> bool {
        if let Some(inm) = if_none_match {
            let ours = weak(self.etag.as_bytes());
            return inm
                .split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .any(|t| t == b"*" || weak(t) == ours);
        }
        match if_modified_since.and_then(date) {
            Some(since) => self.mtime <= since,
            None => false,
        }
    }

    /// Whether a `Range` applies under `If-Range` (RFC 9110 §13.1.5): the
    /// value must be our strong ETag or exactly our modification date.
    pub fn range_applies(&self, if_range: Option<&[u8]>) -> bool {
        match if_range.map(<[u8]>::trim_ascii) {
            None => true,
            Some(v) if v.starts_with(b"\"") => v == self.etag.as_bytes(),
            Some(v) => date(v) == Some(self.mtime),
        }
    }
}

fn weak(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// An HTTP date as seconds since the epoch.
fn date(v: &[u8]) -> Option<u64> {
    let t = httpdate::parse_http_date(std::str::from_utf8(v).ok()?.trim()).ok()?;
    Some(t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs())
}

/// A directory served under a path prefix.
pub(crate) struct StaticDir {
    /// The route prefix without a trailing `/`.
    base: Vec<u8>,
    root: OwnedFd,
    /// The root's canonical path, for the check without `openat2`.
    root_path: PathBuf,
    opts: DirOptions,
}

/// `openat2` is missing (ENOSYS) or filtered (EPERM under some seccomp
/// profiles): use the fallback from then on.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

impl StaticDir {
    /// Opens `root`, which must be a directory. `prefix` starts with `/`.
    pub(crate) fn new(prefix: &[u8], root: &Path, opts: DirOptions) -> io::Result<Self> {
        let root_path = root.canonicalize()?;
        let c = CString::new(root_path.as_os_str().as_bytes())?;
        // SAFETY: a NUL-terminated path; the result is checked.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just opened and owned by nobody else.
        let root = unsafe { OwnedFd::from_raw_fd(fd) };
        let base = prefix.strip_suffix(b"/").unwrap_or(prefix).to_vec();
        Ok(StaticDir {
            base,
            root,
            root_path,
            opts,
        })
    }

    /// The router prefix: matches the base itself and everything below.
    pub(crate) fn prefix(&self) -> &[u8] {
        &self.base
    }

    fn open(&self, rel: &[u8]) -> io::Result<File> {
        let c = CString::new(rel)?;
        let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK;
        if !NO_OPENAT2.load(Ordering::Relaxed) {
            let mut resolve = libc::RESOLVE_NO_MAGICLINKS;
            if !self.opts.follow_symlinks {
                resolve |= libc::RESOLVE_BENEATH;
            }
            // SAFETY: a zeroed open_how is valid (all fields are integers).
            let mut how: libc::open_how = unsafe { std::mem::zeroed() };
            how.flags = flags as u64;
            how.resolve = resolve;
            // SAFETY: a live directory descriptor, a NUL-terminated path and
            // an open_how of the size passed.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    self.root.as_raw_fd(),
                    c.as_ptr(),
                    &how as *const libc::open_how,
                    std::mem::size_of::<libc::open_how>(),
                )
            };
            if fd >= 0 {
                // SAFETY: a descriptor just opened and owned by nobody else.
                return Ok(unsafe { File::from_raw_fd(fd as i32) });
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOSYS) | Some(libc::EPERM) => NO_OPENAT2.store(true, Ordering::Relaxed),
                _ => return Err(e),
            }
        }
        // SAFETY: as above, with openat.
        let fd = unsafe { libc::openat(self.root.as_raw_fd(), c.as_ptr(), flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just opened and owned by nobody else.
        let f = unsafe { File::from_raw_fd(fd) };
        if !self.opts.follow_symlinks {
            // where the descriptor really points, whatever the path said
            let at = std::fs::read_link(format!("/proc/self/fd/{fd}"))?;
            if !at.starts_with(&self.root_path) {
                return Err(io::Error::from_raw_os_error(libc::EXDEV));
            }
        }
        Ok(f)
    }

    fn answer(&self, req: &Request<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        let rest = match req.path.strip_prefix(self.base.as_slice()) {
            Some(r) if r.is_empty() || r[0] == b'/' => r,
            _ => return plain(res, 404),
        };
        let path = match resolve(rest) {
            Ok(p) => p,
            Err(Refused::NotFound) => return plain(res, 404),
            Err(Refused::Bad) => return plain(res, 400),
        };
        let mut file = match self.open(&path.rel) {
            Ok(f) => f,
            Err(e) => return open_failed(res, &e),
        };
        let mut meta = file.metadata().map_err(|_| ())?;
        let mut name = path.rel.clone();
        if meta.is_dir() {
            if !self.opts.index {
                return plain(res, 404);
            }
            if !path.dir {
                // relative links in the index resolve against the slash
                let mut to = req.path.to_vec();
                to.push(b'/');
                if let Some(q) = req.query {
                    to.push(b'?');
                    to.extend_from_slice(q);
                }
                res.status(301).map_err(|_| ())?;
                res.header(b"Location", &to).map_err(|_| ())?;
                return Ok(());
            }
            name.extend_from_slice(b"/index.html");
            file = match self.open(&name) {
                Ok(f) => f,
                Err(e) => return open_failed(res, &e),
            };
            meta = file.metadata().map_err(|_| ())?;
        } else if path.dir {
            return plain(res, 404);
        }
        if !meta.is_file() {
            return plain(res, 404);
        }
        let size = meta.len();
        let v = Validators::new(size, meta.mtime().max(0) as u64);
        let lm = v.last_modified();
        let h =
            |res: &mut ResponseBuilder, n: &[u8], val: &[u8]| res.header(n, val).map_err(|_| ());
        h(res, b"ETag", v.etag.as_bytes())?;
        h(res, b"Last-Modified", lm.as_bytes())?;
        if v.not_modified(
            req.header(b"if-none-match"),
            req.header(b"if-modified-since"),
        ) {
            return res.status(304).map_err(|_| ());
        }
        let ct = mime_guess::from_path(Path::new(std::ffi::OsStr::from_bytes(&name)))
            .first_raw()
            .unwrap_or("application/octet-stream");
        h(res, b"Content-Type", ct.as_bytes())?;
        h(res, b"Accept-Ranges", b"bytes")?;
        let wanted = match req.header(b"range") {
            Some(r) if v.range_applies(req.header(b"if-range")) => range(r, size),
            _ => RangeAnswer::Full,
        };
        let (offset, len) = match wanted {
            RangeAnswer::Full => (0, size),
            RangeAnswer::Part { start, end } => {
                res.status(206).map_err(|_| ())?;
                let cr = format!("bytes {start}-{end}/{size}");
                h(res, b"Content-Range", cr.as_bytes())?;
                (start, end - start + 1)
            }
            RangeAnswer::Unsatisfiable => {
                res.status(416).map_err(|_| ())?;
                h(res, b"Content-Range", format!("bytes */{size}").as_bytes())?;
                return Ok(());
            }
        };
        // the range lies within `size`, from the fstat above
        let len = usize::try_from(len).map_err(|_| ())?;
        res.body_ext(ExtBody::File(FileBody::new(file, offset, len)))
            .map_err(|_| ())
    }
}

impl Handler for StaticDir {
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()> {
        self.answer(req, res)
    }
}

fn plain(res: &mut ResponseBuilder, status: u16) -> Result<(), ()> {
    res.status(status).map_err(|_| ())?;
    res.header(b"Content-Type", b"text/plain").map_err(|_| ())?;
    let mut body = crate::proto::reason(status).as_bytes().to_vec();
    body.push(b'\n');
    res.body(&body).map_err(|_| ())
}

/// 503 when out of descriptors or memory (a retry may work); 404 for the
/// rest: missing, not a directory, outside the root, not readable.
fn open_failed(res: &mut ResponseBuilder, e: &io::Error) -> Result<(), ()> {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOMEM) => plain(res, 503),
        _ => plain(res, 404),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(rel: &str, dir: bool) -> Result<Resolved, Refused> {
        Ok(Resolved {
            rel: rel.as_bytes().to_vec(),
            dir,
        })
    }

    #[test]
    fn paths_map_below_the_root() {
        assert_eq!(resolve(b""), ok(".", true));
        assert_eq!(resolve(b"/"), ok(".", true));
        assert_eq!(resolve(b"/a.txt"), ok("a.txt", false));
        assert_eq!(resolve(b"/sub/"), ok("sub", true));
        assert_eq!(resolve(b"//sub//a%20b.txt"), ok("sub/a b.txt", false));
        assert_eq!(resolve(b"/..."), ok("...", false));
        assert_eq!(resolve(b"/a..b"), ok("a..b", false));
    }

    #[test]
    fn escapes_are_refused() {
        for p in [
            &b"/.."[..],
            b"/../secret",
            b"/a/../../secret",
            b"/%2e%2e/secret",
            b"/%2E%2e/secret",
            b"/.%2e/secret",
            b"/a%2f..%2fsecret",
            b"/..%2fsecret",
            b"/./a",
            b"/a\\..\\secret",
            b"/%5c..%5csecret",
            b"x/a",
        ] {
            assert_eq!(
                resolve(p),
                Err(Refused::NotFound),
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        for p in [&b"/a%00.txt"[..], b"/a\0", b"/%zz", b"/a%2", b"/%%32%65"] {
            assert_eq!(
                resolve(p),
                Err(Refused::Bad),
                "{}",
                String::from_utf8_lossy(p)
            );
        }
    }

    #[test]
    fn single_ranges() {
        let part = |start, end| RangeAnswer::Part { start, end };
        assert_eq!(range(b"bytes=0-0", 10), part(0, 0));
        assert_eq!(range(b"bytes=9-9", 10), part(9, 9));
        assert_eq!(range(b"bytes=2-", 10), part(2, 9));
        assert_eq!(range(b"bytes=-3", 10), part(7, 9));
        assert_eq!(range(b"bytes=-30", 10), part(0, 9));
        assert_eq!(range(b"bytes=5-100", 10), part(5, 9));
        assert_eq!(range(b"Bytes=1-2", 10), part(1, 2));
        assert_eq!(range(b"bytes=10-", 10), RangeAnswer::Unsatisfiable);
        assert_eq!(range(b"bytes=10-20", 10), RangeAnswer::Unsatisfiable);
        assert_eq!(range(b"bytes=-0", 10), RangeAnswer::Unsatisfiable);
        assert_eq!(range(b"bytes=-1", 0), RangeAnswer::Unsatisfiable);
        assert_eq!(range(b"bytes=0-", 0), RangeAnswer::Unsatisfiable);
    }

    #[test]
    fn unusable_ranges_mean_the_whole_file() {
        for r in [
            &b"bytes=5-2"[..],
            b"bytes=0-1,3-4",
            b"bytes=",
            b"bytes=-",
            b"bytes=a-b",
            b"bytes=1",
            b"bytes=+1-2",
            b"bytes=99999999999999999999-",
            b"items=0-1",
            b"garbage",
            b"",
        ] {
            assert_eq!(
                range(r, 10),
                RangeAnswer::Full,
                "{}",
                String::from_utf8_lossy(r)
            );
        }
    }

    #[test]
    fn conditionals() {
        let v = Validators::new(10, 784111777);
        assert_eq!(v.etag, "\"2ebc98a1-a\"");
        assert_eq!(v.last_modified(), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert!(v.not_modified(Some(b"\"2ebc98a1-a\""), None));
        assert!(v.not_modified(Some(b"\"x\", W/\"2ebc98a1-a\""), None));
        assert!(v.not_modified(Some(b"*"), None));
        assert!(!v.not_modified(Some(b"\"x\""), None));
        // If-None-Match wins over If-Modified-Since
        assert!(!v.not_modified(Some(b"\"x\""), Some(b"Sun, 06 Nov 1994 08:49:37 GMT")));
        assert!(v.not_modified(None, Some(b"Sun, 06 Nov 1994 08:49:37 GMT")));
        assert!(v.not_modified(None, Some(b"Mon, 07 Nov 1994 08:49:37 GMT")));
        assert!(!v.not_modified(None, Some(b"Sun, 06 Nov 1994 08:49:36 GMT")));
        assert!(!v.not_modified(None, Some(b"yesterday")));
        assert!(!v.not_modified(None, None));
    }

    #[test]
    fn if_range() {
        let v = Validators::new(10, 784111777);
        assert!(v.range_applies(None));
        assert!(v.range_applies(Some(b"\"2ebc98a1-a\"")));
        assert!(!v.range_applies(Some(b"W/\"2ebc98a1-a\"")));
        assert!(!v.range_applies(Some(b"\"old\"")));
        assert!(v.range_applies(Some(b"Sun, 06 Nov 1994 08:49:37 GMT")));
        assert!(!v.range_applies(Some(b"Sun, 06 Nov 1994 08:49:38 GMT")));
    }

    #[test]
    fn file_bodies_stay_within_the_file() {
        let dir = std::env::temp_dir().join(format!("fastserve-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ten");
        std::fs::write(&p, b"0123456789").unwrap();
        let open = || File::open(&p).unwrap();
        assert!(file_body(open(), 0, 10).is_ok());
        assert!(file_body(open(), 10, 0).is_ok());
        assert_eq!(
            file_body(open(), 5, 6).err(),
            Some(FileError::OutOfRange { size: 10 })
        );
        assert_eq!(
            file_body(open(), u64::MAX, 2).err(),
            Some(FileError::OutOfRange { size: 10 })
        );
        assert_eq!(
            file_body(File::open(&dir).unwrap(), 0, 0).err(),
            Some(FileError::NotRegular)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
