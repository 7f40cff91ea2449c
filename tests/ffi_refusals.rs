//! Refusals, as C meets them: NULL handles of the stream, body and
//! protocol-switch calls, unknown routes, ids and flags, absurd settings,
//! each with its `fastserve_last_error` detail.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;

use fastserve::ffi::batch::fastserve_server_response;
use fastserve::ffi::body::*;
use fastserve::ffi::error::fastserve_last_error;
use fastserve::ffi::fastserve_result::*;
use fastserve::ffi::server::*;
use fastserve::ffi::stream::*;
use fastserve::ffi::upgrade::*;

fn last_error() -> String {
    // SAFETY: the library's strings are NUL-terminated and live until the
    // next call on this thread; copied at once.
    unsafe { CStr::from_ptr(fastserve_last_error()) }
        .to_str()
        .unwrap()
        .to_owned()
}

unsafe extern "C" fn on_body(
    _: *mut c_void,
    _: *const c_char,
    _: usize,
    _: fastserve_body_event,
) -> c_int {
    0
}

unsafe extern "C" fn on_upgrade(_: *mut c_void, _: c_int, _: *const c_char, _: usize) {}

#[test]
fn null_handles_are_refused_with_their_name() {
    // SAFETY: NULL handles are allowed by every one of these calls.
    unsafe {
        assert!(fastserve_response_stream(ptr::null_mut(), -1, None, ptr::null_mut()).is_null());
        assert_eq!(
            fastserve_stream_write(ptr::null_mut(), ptr::null(), 0),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert!(last_error().contains("stream"), "{}", last_error());
        assert_eq!(
            fastserve_stream_end(ptr::null_mut()),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        fastserve_stream_abort(ptr::null_mut());
        assert_eq!(
            fastserve_response_read_body(ptr::null_mut(), Some(on_body), ptr::null_mut()),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(
            fastserve_response_resume_body(ptr::null_mut()),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(
            fastserve_response_upgrade(ptr::null_mut(), 101, Some(on_upgrade), ptr::null_mut()),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(
            fastserve::ffi::deferred::fastserve_response_on_end(
                ptr::null_mut(),
                None,
                ptr::null_mut()
            ),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert!(fastserve_server_response(ptr::null(), 1).is_null());
        assert!(last_error().contains("srv"), "{}", last_error());
    }
}

#[test]
fn route_body_needs_the_route_and_known_flags() {
    // SAFETY: NULL asks for the defaults.
    let srv = unsafe { fastserve_server_new(ptr::null()) };
    let (m, p) = ("PUT", "/up");
    // SAFETY: `srv` is live until freed below; strings are live locals.
    unsafe {
        let r = fastserve_server_route_body(
            srv,
            m.as_ptr().cast(),
            3,
            p.as_ptr().cast(),
            3,
            10,
            FASTSERVE_BODY_STREAM,
        );
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(
            last_error(),
            "no route has this method and path \"/up\": add the route first"
        );
        let r = fastserve_server_route_static(
            srv,
            m.as_ptr().cast(),
            3,
            p.as_ptr().cast(),
            3,
            0,
            200,
            ptr::null(),
            0,
            ptr::null(),
            0,
        );
        assert_eq!(r, FASTSERVE_RESULT_OK);
        let r =
            fastserve_server_route_body(srv, m.as_ptr().cast(), 3, p.as_ptr().cast(), 3, 10, 0x80);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "unknown body flags 0x80");
        let r = fastserve_server_route_body(
            srv,
            m.as_ptr().cast(),
            3,
            p.as_ptr().cast(),
            3,
            10,
            FASTSERVE_BODY_STREAM,
        );
        assert_eq!(r, FASTSERVE_RESULT_OK);
        // a server that is not running knows no batch request
        assert!(fastserve_server_response(srv, 7).is_null());
        fastserve_server_free(srv);
    }
}

#[test]
fn absurd_worker_counts_are_refused() {
    use fastserve::ffi::config::*;
    let cfg = fastserve_config_new();
    // SAFETY: `cfg` is live until freed below.
    unsafe {
        assert_eq!(
            fastserve_config_set_workers(cfg, 1025),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(last_error(), "workers 1025 is over the limit (1024)");
        assert_eq!(fastserve_config_set_workers(cfg, 1024), FASTSERVE_RESULT_OK);
        fastserve_config_free(cfg);
    }
}

#[test]
fn unknown_route_flags_are_refused() {
    // SAFETY: NULL asks for the defaults.
    let srv = unsafe { fastserve_server_new(ptr::null()) };
    let (m, p) = ("GET", "/x");
    unsafe extern "C" fn h(
        _: *const fastserve::ffi::request::fastserve_request,
        _: *mut fastserve::ffi::request::fastserve_response,
        _: *mut c_void,
    ) -> c_int {
        0
    }
    // SAFETY: `srv` is live until freed below; strings are live locals.
    unsafe {
        let r = fastserve_server_route(
            srv,
            m.as_ptr().cast(),
            3,
            p.as_ptr().cast(),
            2,
            0x40,
            Some(h),
            ptr::null_mut(),
        );
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "unknown route flags 0x40");
        let r = fastserve_server_route_static(
            srv,
            m.as_ptr().cast(),
            3,
            p.as_ptr().cast(),
            2,
            0x41,
            200,
            ptr::null(),
            0,
            ptr::null(),
            0,
        );
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        let r = fastserve_server_route(
            srv,
            m.as_ptr().cast(),
            3,
            p.as_ptr().cast(),
            2,
            FASTSERVE_ROUTE_PREFIX,
            Some(h),
            ptr::null_mut(),
        );
        assert_eq!(r, FASTSERVE_RESULT_OK);
        fastserve_server_free(srv);
    }
}

/// What the body-buffer handlers saw that the client cannot.
static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn header(res: *mut fastserve::ffi::request::fastserve_response, name: &str, value: &str) {
    // SAFETY: `res` is the running handler's response; the strings are live.
    let r = unsafe {
        fastserve::ffi::request::fastserve_response_header(
            res,
            name.as_ptr().cast(),
            name.len(),
            value.as_ptr().cast(),
            value.len(),
        )
    };
    assert_eq!(r, FASTSERVE_RESULT_OK);
}

/// /fill: a buffer set twice, the second written in part (it starts
/// zeroed); /none: a 204 asked for a body buffer; /sent: a buffer asked for
/// after the response was sent.
unsafe extern "C" fn body_buffers(
    req: *const fastserve::ffi::request::fastserve_request,
    res: *mut fastserve::ffi::request::fastserve_response,
    _: *mut c_void,
) -> c_int {
    use fastserve::ffi::deferred::fastserve_response_send;
    use fastserve::ffi::request::*;
    // SAFETY: `req` and `res` are the running call's; each buffer is
    // written within its length before the next call on `res`.
    unsafe {
        let p = fastserve_request_path(req);
        match std::slice::from_raw_parts(p.ptr.cast::<u8>(), p.len) {
            b"/fill" => {
                let first = fastserve_response_body_buffer(res, 5);
                assert!(!first.is_null());
                first.write_bytes(b'x', 5);
                let b = fastserve_response_body_buffer(res, 3);
                assert!(!b.is_null());
                *b = b'a' as c_char;
            }
            b"/none" => {
                assert_eq!(fastserve_response_status(res, 204), FASTSERVE_RESULT_OK);
                let refused = fastserve_response_body_buffer(res, 1).is_null();
                let e = last_error();
                assert!(!fastserve_response_body_buffer(res, 0).is_null());
                header(res, "X-Refused", &format!("{refused} {e}"));
            }
            _ => {
                assert_eq!(fastserve_response_send(res), FASTSERVE_RESULT_OK);
                let refused = fastserve_response_body_buffer(res, 1).is_null();
                SEEN.lock()
                    .unwrap()
                    .push(format!("{refused} {}", last_error()));
            }
        }
    }
    0
}

#[test]
fn a_body_buffer_is_written_in_place_and_refused_where_a_body_is() {
    use std::io::{Read, Write};
    // SAFETY: NULL asks for the defaults; `srv` is live until freed below
    // and every string is a live local.
    unsafe {
        assert!(
            fastserve::ffi::request::fastserve_response_body_buffer(ptr::null_mut(), 1).is_null()
        );
        assert_eq!(last_error(), "res is NULL");
        let srv = fastserve_server_new(ptr::null());
        for path in ["/fill", "/none", "/sent"] {
            let r = fastserve_server_route(
                srv,
                "GET".as_ptr().cast(),
                3,
                path.as_ptr().cast(),
                path.len(),
                0,
                Some(body_buffers),
                ptr::null_mut(),
            );
            assert_eq!(r, FASTSERVE_RESULT_OK);
        }
        let host = "127.0.0.1";
        let r = fastserve_server_listen(srv, host.as_ptr().cast(), host.len(), 0);
        assert_eq!(r, FASTSERVE_RESULT_OK);
        assert_eq!(fastserve_server_start(srv), FASTSERVE_RESULT_OK);
        let get = |path: &str| {
            let mut c = std::net::TcpStream::connect((host, fastserve_server_port(srv))).unwrap();
            write!(
                c,
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = Vec::new();
            c.read_to_end(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let fill = get("/fill");
        assert!(fill.starts_with("HTTP/1.1 200 OK\r\n"), "{fill:?}");
        assert!(fill.contains("\r\nContent-Length: 3\r\n"), "{fill:?}");
        assert!(fill.ends_with("\r\n\r\na\0\0"), "{fill:?}");
        let none = get("/none");
        assert!(none.starts_with("HTTP/1.1 204 No Content\r\n"), "{none:?}");
        assert!(
            none.contains(
                "\r\nX-Refused: true a 204 response has no body: send it with an empty one\r\n"
            ),
            "{none:?}"
        );
        assert!(none.ends_with("\r\n\r\n"), "{none:?}");
        let sent = get("/sent");
        assert!(sent.starts_with("HTTP/1.1 200 OK\r\n"), "{sent:?}");
        assert_eq!(
            SEEN.lock().unwrap().as_slice(),
            ["true the response was already sent or deferred"]
        );
        assert_eq!(fastserve_server_stop(srv), FASTSERVE_RESULT_OK);
        fastserve_server_free(srv);
    }
}
