//! The request target's four forms (RFC 9112 §3.2) and the `Host` field
//! (RFC 9112 §3.2, RFC 9110 §7.2), as pure functions: which targets a
//! method may have, the path and query a target routes by, and what a valid
//! `uri-host [":" port]` is. `Err` holds the status to answer with.

use crate::parse::Header;

const CONNECT: &[u8] = b"CONNECT";

/// Checks the target's form against the method: origin-form (`/path?q`)
/// and absolute-form (`http://host/path?q`) for any method but CONNECT,
/// asterisk-form (`*`) for OPTIONS only, authority-form (`host:port`) for
/// CONNECT only. An absolute-form target must be `http` or `https`, with a
/// host and no userinfo. Returns the authority of an absolute-form target,
/// which stands for `Host` (RFC 9112 §3.2.2).
#[inline]
pub(crate) fn check<'a>(method: &[u8], target: &'a [u8]) -> Result<Option<&'a [u8]>, u16> {
    if target.first() == Some(&b'/') && method != CONNECT {
        return Ok(None);
    }
    check_other(method, target)
}

#[cold]
fn check_other<'a>(method: &[u8], target: &'a [u8]) -> Result<Option<&'a [u8]>, u16> {
    if method == CONNECT {
        // a port is required: CONNECT has no default one (RFC 9110 §9.3.6)
        return match authority(target, true) {
            Some(_) => Ok(None),
            None => Err(400),
        };
    }
    if target == b"*" {
        return if method == b"OPTIONS" {
            Ok(None)
        } else {
            Err(400)
        };
    }
    match absolute(target) {
        Some((auth, _)) => Ok(Some(auth)),
        None => Err(400),
    }
}

/// The path and query a checked target routes by. Origin-form: split at
/// `?`; absolute-form: what follows the authority, `/` when that path is
/// empty; asterisk- and authority-form: the target itself.
#[inline]
pub(crate) fn parts(target: &[u8]) -> (&[u8], Option<&[u8]>) {
    if target.first() == Some(&b'/') {
        return split_query(target);
    }
    parts_other(target)
}

#[cold]
fn parts_other(target: &[u8]) -> (&[u8], Option<&[u8]>) {
    match absolute(target) {
        Some((_, rest)) => {
            let (path, query) = split_query(rest);
            (if path.is_empty() { b"/" } else { path }, query)
        }
        None => (target, None),
    }
}

#[inline]
fn split_query(t: &[u8]) -> (&[u8], Option<&[u8]>) {
    match super::bytes::find(b'?', t) {
        Some(q) => (&t[..q], Some(&t[q + 1..])),
        None => (t, None),
    }
}

/// An `http`/`https` absolute-form target: its authority and the rest
/// (path and query). `None` for anything else, an empty host, or userinfo
/// (RFC 9110 §4.2.1, §4.2.4).
fn absolute(target: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr::memchr(b':', target)?;
    let scheme = &target[..colon];
    if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
        return None;
    }
    let after = target[colon + 1..].strip_prefix(b"//")?;
    let end = after
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(after.len());
    let (auth, rest) = after.split_at(end);
    let (host, _) = authority(auth, false)?;
    if host.is_empty() {
        return None;
    }
    Some((auth, rest))
}

/// Whether `v` is a valid `Host` value: `uri-host [":" port]`, possibly
/// empty (RFC 9110 §7.2: a target without an authority).
#[inline]
pub(crate) fn valid_host(v: &[u8]) -> bool {
    authority(v, false).is_some()
}

/// Splits `uri-host [":" port]` (RFC 3986 §3.2.2-3) into host and port
/// after checking both; the port has up to 5 digits and is at most 65535.
/// With `need_port` the host and the port must both be there.
fn authority(v: &[u8], need_port: bool) -> Option<(&[u8], Option<&[u8]>)> {
    let (host, port) = if v.first() == Some(&b'[') {
        let close = memchr::memchr(b']', v)?;
        if !ip_literal(&v[1..close]) {
            return None;
        }
        match &v[close + 1..] {
            [] => (&v[..=close], None),
            [b':', port @ ..] => (&v[..=close], Some(port)),
            _ => return None,
        }
    } else {
        // a host value is short: a plain loop beats a search's set-up
        let (host, port) = match v.iter().rposition(|&b| b == b':') {
            Some(c) => (&v[..c], Some(&v[c + 1..])),
            None => (v, None),
        };
        if !reg_name(host) {
            return None;
        }
        (host, port)
    };
    if let Some(p) = port {
        let digits = p.len() <= 5 && p.iter().all(u8::is_ascii_digit);
        if !digits || p.iter().fold(0u32, |a, &d| a * 10 + (d - b'0') as u32) > 65535 {
            return None;
        }
    }
    if need_port && (host.is_empty() || port.map_or(true, <[u8]>::is_empty)) {
        return None;
    }
    Some((host, port))
}

/// `reg-name` (an IPv4 address is one too): unreserved, sub-delims and
/// percent-encoded bytes.
#[inline]
fn reg_name(h: &[u8]) -> bool {
    // the common case, a name without `%`, in one pass of table lookups
    let plain = h.iter().fold(true, |ok, &b| ok & HOST_BYTE[b as usize]);
    plain || reg_name_escaped(h)
}

#[cold]
fn reg_name_escaped(h: &[u8]) -> bool {
    let mut i = 0;
    while i < h.len() {
        match h[i] {
            b'%' => {
                let hex = |k: usize| h.get(k).is_some_and(u8::is_ascii_hexdigit);
                if !hex(i + 1) || !hex(i + 2) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if HOST_BYTE[b as usize] => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// Unreserved and sub-delims bytes (RFC 3986 §2.2-3).
static HOST_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-._~!$&'()*+,;=";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
};

fn unreserved_or_sub_delim(b: u8) -> bool {
    HOST_BYTE[b as usize]
}

/// The inside of `[...]`: an IPv6 address or `v<hex>.<text>` (IPvFuture).
fn ip_literal(s: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = s {
        let Some(dot) = memchr::memchr(b'.', rest) else {
            return false;
        };
        return dot > 0
            && rest[..dot].iter().all(u8::is_ascii_hexdigit)
            && dot + 1 < rest.len()
            && rest[dot + 1..]
                .iter()
                .all(|&b| b == b':' || unreserved_or_sub_delim(b));
    }
    std::str::from_utf8(s).is_ok_and(|t| t.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Makes the first `Host` field read as `authority` (an absolute-form
/// target's, which the server uses instead, RFC 9112 §3.2.2).
#[cold]
pub(crate) fn override_host<'b>(headers: &mut [Header<'b>], authority: &'b [u8]) {
    if let Some(h) = headers
        .iter_mut()
        .find(|h| h.name().eq_ignore_ascii_case(b"host"))
    {
        *h = Header::new(Some(h.name()), authority);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_values() {
        for ok in [
            "example.com",
            "example.com:8080",
            "EXAMPLE.com.",
            "",
            "127.0.0.1",
            "127.0.0.1:0",
            "[::1]",
            "[2001:db8::7]:443",
            "[v1.fe80::a+en1]",
            "xn--bcher-kva.example",
            "a%2Db",
            "sub_domain~x!$&'()*+,;=",
            "host:",
            "host:65535",
        ] {
            assert!(valid_host(ok.as_bytes()), "{ok:?}");
        }
        for bad in [
            "exa mple.com",
            "example.com/",
            "user@example.com",
            "example.com:http",
            "example.com:65536",
            "example.com:123456",
            "example.com:-1",
            "a:b:c",
            "::1",
            "[::1",
            "[::1]x",
            "[::1]:x",
            "[example.com]",
            "[v1.]",
            "%zz",
            "caf\u{e9}.example",
            "host?q",
            "host#f",
            "a\"b",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn forms_by_method() {
        assert_eq!(check(b"GET", b"/a?b"), Ok(None));
        assert_eq!(check(b"OPTIONS", b"*"), Ok(None));
        for m in ["GET", "HEAD", "POST", "CONNECT", "options"] {
            assert_eq!(check(m.as_bytes(), b"*"), Err(400), "{m} *");
        }
        assert_eq!(check(b"CONNECT", b"example.com:443"), Ok(None));
        assert_eq!(check(b"CONNECT", b"[::1]:8443"), Ok(None));
        for bad in [
            "example.com",
            "example.com:",
            ":443",
            "/tunnel",
            "http://a/",
            "*",
        ] {
            assert_eq!(check(b"CONNECT", bad.as_bytes()), Err(400), "CONNECT {bad}");
        }
        // authority-form with another method: no such form
        assert_eq!(check(b"GET", b"example.com:443"), Err(400));
        assert_eq!(check(b"POST", b"example.com"), Err(400));
    }

    #[test]
    fn absolute_form() {
        let abs = |t: &str| check(b"GET", t.as_bytes()).map(|a| a.map(|a| a.to_vec()));
        let auth = |a: &str| Ok(Some(a.as_bytes().to_vec()));
        assert_eq!(abs("http://example.com/a?b"), auth("example.com"));
        assert_eq!(abs("HTTPS://example.com:8443"), auth("example.com:8443"));
        assert_eq!(abs("http://[::1]:80?x"), auth("[::1]:80"));
        for bad in [
            "ftp://example.com/",
            "http:/example.com/",
            "http:example.com",
            "http:///path",
            "http://user@example.com/",
            "http://exa mple/",
            "http://example.com:99999/",
            "mailto:someone@example.com",
        ] {
            assert_eq!(abs(bad), Err(400), "{bad}");
        }
        let p = |t: &'static str| parts(t.as_bytes());
        assert_eq!(p("/a/b?c=d"), (&b"/a/b"[..], Some(&b"c=d"[..])));
        assert_eq!(p("/"), (&b"/"[..], None));
        assert_eq!(p("http://h/a/b?c"), (&b"/a/b"[..], Some(&b"c"[..])));
        assert_eq!(p("http://h:1/a"), (&b"/a"[..], None));
        assert_eq!(p("http://h"), (&b"/"[..], None));
        assert_eq!(p("http://h?q=1"), (&b"/"[..], Some(&b"q=1"[..])));
        assert_eq!(p("*"), (&b"*"[..], None));
        assert_eq!(p("example.com:443"), (&b"example.com:443"[..], None));
    }

    #[test]
    fn host_is_overridden() {
        let mut hs = [
            Header::new(Some(b"Accept"), b"*/*"),
            Header::new(Some(b"HOST"), b"other"),
        ];
        override_host(&mut hs, b"example.com:80");
        assert_eq!(
            (hs[1].name(), hs[1].value()),
            (&b"HOST"[..], &b"example.com:80"[..])
        );
        assert_eq!(hs[0].value(), b"*/*");
    }
}
