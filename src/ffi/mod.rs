//! fastserve: an HTTP/1.1 engine. Its layers, each usable alone:
//!
//! - a server (`fastserve_server_*`): worker threads with their own event
//!   loops, static routes, C handlers answered inline or later from any
//!   thread (deferred responses), and batch routes that hand a whole batch
//!   of requests to one call;
//! - a sans-I/O connection (`fastserve_conn_*`) for programs that run
//!   their own event loop;
//! - the parser (`fastserve_parse_*`), and the same parser behind
//!   picohttpparser's API (`phr_*`, in picohttpparser.h).
//!
//! Conventions:
//!
//! - Byte strings cross as `const char *` plus a `size_t` length, never
//!   NUL-terminated unless a comment says so; a pointer may be NULL only
//!   when its length is 0. Results come back the same way (`fastserve_str`).
//! - A call that can fail returns a `fastserve_result`: 0
//!   (`FASTSERVE_RESULT_OK`) is success. `fastserve_result_str` names a
//!   code; `fastserve_last_error` says what went wrong in the last failed
//!   call on the calling thread.
//! - Objects are opaque and come in `_new`/`_free` pairs; the caller owns
//!   what `_new` returns and frees it exactly once; `_free(NULL)` does
//!   nothing. Every other pointer argument is borrowed for the call only,
//!   and what the library copies is said in each function's comment.
//! - Which thread may call what is said with each object.
//! - No Rust panic unwinds into C: every function catches it, and its
//!   comment says what it returns then (usually `FASTSERVE_RESULT_PANIC`).
//!   A panic is a fastserve bug; please report it.
#![allow(non_camel_case_types)]

use std::any::Any;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Defines an exported C function inside one panic boundary.
///
/// Every `#[no_mangle]` function of the C ABI is written inside `ffi_fn!`
/// (`tests/ffi_exports.rs` checks it). The body runs under `catch_unwind`;
/// after a panic the function returns the value of `#[on_panic(...)]`,
/// which goes right after the docs (void functions have none and return),
/// and `fastserve_last_error` names the function that panicked.
///
/// ```ignore
/// ffi_fn! {
///     /// Docs, ending with what a panic returns.
///     ///
///     /// On an internal panic: returns NULL.
///     #[on_panic(std::ptr::null_mut())]
///     #[no_mangle]
///     pub unsafe extern "C" fn fastserve_thing_new(size: usize) -> *mut fastserve_thing {
///         ...
///     }
/// }
/// ```
///
/// build.rs reads the function inside each invocation for the C header.
macro_rules! ffi_fn {
    (
        $(#[doc = $doc:expr])*
        #[on_panic($on_panic:expr)]
        $(#[$attr:meta])*
        pub unsafe extern "C" fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
        { $($body:tt)* }
    ) => {
        $(#[doc = $doc])*
        $(#[$attr])*
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            $crate::ffi::boundary(stringify!($name), move || -> $ret { $($body)* }, || $on_panic)
        }
    };
    (
        $(#[doc = $doc:expr])*
        #[on_panic($on_panic:expr)]
        $(#[$attr:meta])*
        pub extern "C" fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty { $($body:tt)* }
    ) => {
        $(#[doc = $doc])*
        $(#[$attr])*
        pub extern "C" fn $name($($arg: $ty),*) -> $ret {
            $crate::ffi::boundary(stringify!($name), move || -> $ret { $($body)* }, || $on_panic)
        }
    };
    (
        $(#[$attr:meta])*
        pub unsafe extern "C" fn $name:ident($($arg:ident: $ty:ty),* $(,)?) { $($body:tt)* }
    ) => {
        $(#[$attr])*
        pub unsafe extern "C" fn $name($($arg: $ty),*) {
            $crate::ffi::boundary(stringify!($name), move || { $($body)* }, || ())
        }
    };
    ($($rest:tt)*) => {
        compile_error!(
            "ffi_fn! takes one `pub [unsafe] extern \"C\" fn`, with #[on_panic(value)] \
             after its docs unless it returns nothing"
        );
    };
}

pub mod batch;
pub mod body;
pub mod config;
pub mod conn;
pub mod conn_stream;
pub mod deferred;
pub mod error;
pub mod listen;
pub mod observe;
pub mod parse;
pub mod pico;
pub mod request;
pub mod server;
pub mod stream;
pub mod upgrade;

pub use error::fastserve_result;

use error::Outcome;

/// Major version of the library, as in `fastserve_version()`.
pub const FASTSERVE_VERSION_MAJOR: u32 = 0;
/// Minor version of the library.
pub const FASTSERVE_VERSION_MINOR: u32 = 1;
/// Patch version of the library.
pub const FASTSERVE_VERSION_PATCH: u32 = 0;

// The header's numbers must follow Cargo.toml.
const _: () = assert!(FASTSERVE_VERSION_MAJOR == decimal(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(FASTSERVE_VERSION_MINOR == decimal(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(FASTSERVE_VERSION_PATCH == decimal(env!("CARGO_PKG_VERSION_PATCH")));

const fn decimal(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while i < b.len() {
        assert!(b[i].is_ascii_digit());
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

ffi_fn! {
    /// The library's version, e.g. "0.1.0": a static NUL-terminated string
    /// that lives as long as the program. Compare with the
    /// `FASTSERVE_VERSION_*` macros to see which version a program was
    /// compiled against. Any thread.
    ///
    /// On an internal panic: returns "".
    #[on_panic(c"".as_ptr())]
    #[no_mangle]
    pub extern "C" fn fastserve_version() -> *const c_char {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    }
}

/// A byte string: `len` bytes at `ptr`, not NUL-terminated. `ptr` is NULL
/// when the value is absent (`len` is then 0). Where the bytes live and for
/// how long is said by the function that returns it.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fastserve_str {
    pub ptr: *const c_char,
    pub len: usize,
}

impl fastserve_str {
    pub(crate) const NONE: fastserve_str = fastserve_str {
        ptr: std::ptr::null(),
        len: 0,
    };

    pub(crate) fn of(b: &[u8]) -> Self {
        fastserve_str {
            ptr: b.as_ptr().cast(),
            len: b.len(),
        }
    }
}

/// `peer` as a socket address, written as getpeername(2) does: at most
/// `*len` bytes of it, and its full size to `*len`.
///
/// # Safety
/// `addr` is writable for `*len` bytes.
pub(crate) unsafe fn write_sockaddr(
    peer: &crate::proto::Peer,
    addr: *mut libc::sockaddr,
    len: &mut libc::socklen_t,
) {
    use crate::proto::PeerAddr;
    use std::net::SocketAddr;
    // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let size = match peer.addr() {
        PeerAddr::Ip(SocketAddr::V4(a)) => {
            // SAFETY: `sockaddr_storage` is large and aligned enough for any
            // socket address.
            let sin = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        PeerAddr::Ip(SocketAddr::V6(a)) => {
            // SAFETY: as above.
            let sin6 = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
        PeerAddr::Unix => {
            // SAFETY: as above.
            let sun = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_un>()
            };
            sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
            let path = peer.host();
            let n = path.len().min(sun.sun_path.len());
            for (d, &b) in sun.sun_path.iter_mut().zip(&path[..n]) {
                *d = b as libc::c_char;
            }
            std::mem::offset_of!(libc::sockaddr_un, sun_path) + n
        }
    };
    let n = size.min(*len as usize);
    // SAFETY: `addr` is writable for `*len >= n` bytes by contract, and `ss`
    // holds `size >= n` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&ss as *const libc::sockaddr_storage).cast::<u8>(),
            addr.cast::<u8>(),
            n,
        )
    };
    *len = size as libc::socklen_t;
}

/// The peer a socket address names: AF_INET, AF_INET6 or AF_UNIX.
///
/// # Safety
/// `addr` is readable for `len` bytes.
pub(crate) unsafe fn read_sockaddr(
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> Result<crate::proto::Peer, String> {
    use crate::proto::Peer;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    let len = len as usize;
    let mut ss = std::mem::MaybeUninit::<libc::sockaddr_storage>::zeroed();
    if len < std::mem::size_of::<libc::sa_family_t>() || len > std::mem::size_of_val(&ss) {
        return Err(format!("a socket address of {len} bytes"));
    }
    // SAFETY: `addr` is readable for `len` bytes by contract, which fit in
    // `ss`; a zero-filled `sockaddr_storage` with any bytes copied in is
    // valid, and aligned for every address type.
    let ss = unsafe {
        std::ptr::copy_nonoverlapping(addr.cast::<u8>(), ss.as_mut_ptr().cast::<u8>(), len);
        ss.assume_init()
    };
    let p = &ss as *const libc::sockaddr_storage;
    match ss.ss_family as libc::c_int {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says which address `ss` holds.
            let a = unsafe { &*p.cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes());
            Ok(Peer::ip(
                SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into(),
            ))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above.
            let a = unsafe { &*p.cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            let port = u16::from_be(a.sin6_port);
            let flow = u32::from_be(a.sin6_flowinfo);
            Ok(Peer::ip(
                SocketAddrV6::new(ip, port, flow, a.sin6_scope_id).into(),
            ))
        }
        libc::AF_UNIX => {
            // SAFETY: as above.
            let a = unsafe { &*p.cast::<libc::sockaddr_un>() };
            let start = std::mem::offset_of!(libc::sockaddr_un, sun_path);
            let n = len.saturating_sub(start).min(a.sun_path.len());
            let path: Vec<u8> = a.sun_path[..n].iter().map(|&c| c as u8).collect();
            // a pathname ends at its NUL; an abstract name (leading NUL) is kept whole
            let end = match path.first() {
                Some(0) => n,
                _ => path.iter().position(|&b| b == 0).unwrap_or(n),
            };
            Ok(Peer::unix(&path[..end]))
        }
        f => Err(format!("socket address family {f} with {len} bytes")),
    }
}

/// Runs the body of an export (see [`ffi_fn!`]): a panic becomes
/// `on_panic()`, and a failing result gets a `fastserve_last_error` detail.
#[inline(always)]
pub(crate) fn boundary<R: Outcome>(
    name: &str,
    body: impl FnOnce() -> R,
    on_panic: impl FnOnce() -> R,
) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r.finish(),
        Err(payload) => {
            error::panicked(name, &*payload);
            drop_payload(payload);
            on_panic()
        }
    }
}

/// A payload's destructor could panic too; that one is leaked.
fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(again);
    }
}

/// A borrowed byte string from a C pointer and length; NULL is only allowed
/// with length 0.
///
/// # Safety
/// When non-NULL, `p` must be valid for reads of `len` bytes for `'a`.
#[inline(always)]
pub(crate) unsafe fn bytes<'a>(p: *const c_char, len: usize) -> Option<&'a [u8]> {
    // SAFETY: forwarded contract; `c_char` and `u8` have the same layout.
    unsafe { slice(p.cast::<u8>(), len) }
}

/// As [`bytes`], for any element type.
///
/// # Safety
/// When non-NULL, `p` must be valid for reads of `len` elements for `'a`.
#[inline(always)]
pub(crate) unsafe fn slice<'a, T>(p: *const T, len: usize) -> Option<&'a [T]> {
    if p.is_null() {
        return if len == 0 { Some(&[]) } else { None };
    }
    // SAFETY: the caller guarantees `p` is valid for `len` elements.
    Some(unsafe { std::slice::from_raw_parts(p, len) })
}

/// As [`bytes`], mutable.
///
/// # Safety
/// When non-NULL, `p` must be valid for reads and writes of `len` bytes for
/// `'a`, with no other live reference to them.
#[inline(always)]
pub(crate) unsafe fn bytes_mut<'a>(p: *mut c_char, len: usize) -> Option<&'a mut [u8]> {
    if p.is_null() {
        return if len == 0 { Some(&mut []) } else { None };
    }
    // SAFETY: the caller guarantees exclusive access to `len` bytes at `p`;
    // `c_char` and `u8` have the same layout.
    Some(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::error::fastserve_last_error;
    use super::fastserve_result::{self, *};

    ffi_fn! {
        /// Panics when `n` is not 0.
        ///
        /// On an internal panic: returns FASTSERVE_RESULT_PANIC.
        #[on_panic(FASTSERVE_RESULT_PANIC)]
        pub unsafe extern "C" fn panics(n: usize) -> fastserve_result {
            assert!(n == 0, "asked to panic with {n}");
            FASTSERVE_RESULT_INVALID_ARGUMENT
        }
    }

    ffi_fn! {
        /// Panics.
        ///
        /// On an internal panic: returns NULL.
        #[on_panic(std::ptr::null())]
        pub extern "C" fn panics_for_null() -> *const u8 {
            panic!("no pointer")
        }
    }

    ffi_fn! {
        /// Panics.
        ///
        /// On an internal panic: returns.
        pub unsafe extern "C" fn panics_in_void() {
            panic!("nothing to return")
        }
    }

    fn last_error() -> String {
        // SAFETY: NUL-terminated and valid until the next call; copied at once.
        unsafe { CStr::from_ptr(fastserve_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_returns_the_declared_value_and_says_where() {
        // SAFETY: no pointers.
        assert_eq!(unsafe { panics(3) }, FASTSERVE_RESULT_PANIC);
        assert_eq!(
            last_error(),
            "internal error in panics (please report it): asked to panic with 3"
        );
        assert!(panics_for_null().is_null());
        assert!(last_error().contains("in panics_for_null (please report it): no pointer"));
        // SAFETY: no pointers.
        unsafe { panics_in_void() };
        assert!(last_error().contains("nothing to return"));
        // a failure without a detail of its own gets the code's name
        // SAFETY: no pointers.
        assert_eq!(unsafe { panics(0) }, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "invalid argument");
    }
}
