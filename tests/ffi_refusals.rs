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
