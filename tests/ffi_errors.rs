//! `fastserve_last_error` and `fastserve_version`, called as C calls them.

use std::ffi::{c_char, CStr};
use std::ptr;

use fastserve::ffi::batch::fastserve_server_complete;
use fastserve::ffi::config::*;
use fastserve::ffi::conn::*;
use fastserve::ffi::error::{fastserve_last_error, fastserve_result_str};
use fastserve::ffi::fastserve_result::*;
use fastserve::ffi::parse::{fastserve_header, fastserve_parse_request, fastserve_request_line};
use fastserve::ffi::server::*;
use fastserve::ffi::{
    fastserve_version, FASTSERVE_VERSION_MAJOR, FASTSERVE_VERSION_MINOR, FASTSERVE_VERSION_PATCH,
};

fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library's strings are NUL-terminated and live until the
    // next call on this thread; copied at once.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

fn last_error() -> String {
    text(fastserve_last_error())
}

fn s(v: &str) -> (*const c_char, usize) {
    (v.as_ptr().cast(), v.len())
}

#[test]
fn version_follows_cargo_toml() {
    assert_eq!(text(fastserve_version()), env!("CARGO_PKG_VERSION"));
    let macros =
        format!("{FASTSERVE_VERSION_MAJOR}.{FASTSERVE_VERSION_MINOR}.{FASTSERVE_VERSION_PATCH}");
    assert_eq!(macros, env!("CARGO_PKG_VERSION"));
    assert_eq!(text(fastserve_result_str(3)), "invalid argument");
}

#[test]
fn config_refusals_say_which_setting_and_why() {
    assert_eq!(last_error(), "", "nothing failed yet on this thread");
    let cfg = fastserve_config_new();
    // SAFETY: `cfg` is live until freed below; strings are live locals.
    unsafe {
        assert_eq!(
            fastserve_config_set_workers(cfg, 0),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(last_error(), "workers must not be 0");
        // success leaves the detail alone
        assert_eq!(fastserve_config_set_workers(cfg, 2), FASTSERVE_RESULT_OK);
        assert_eq!(last_error(), "workers must not be 0");
        assert_eq!(
            fastserve_config_set_buffer_size(cfg, 1 << 30),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(
            last_error(),
            "buffer_size 1073741824 is over 64 MiB (67108864)"
        );
        assert_eq!(
            fastserve_config_set_socket_recv_buffer(cfg, 1 << 31),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(
            last_error(),
            "socket_recv_buffer 2147483648 is over INT_MAX (2147483647)"
        );
        assert_eq!(
            fastserve_config_set_header_timeout_ms(ptr::null_mut(), 5),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(last_error(), "cfg is NULL");
        let (p, n) = s("fast\nserve");
        assert_eq!(
            fastserve_config_set_server_name(cfg, p, n),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(
            last_error(),
            r#"server name "fast\nserve" has a control byte"#
        );
        assert_eq!(
            fastserve_config_set_server_name(cfg, ptr::null(), 4),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(last_error(), "name is NULL but its length is 4");
        fastserve_config_free(cfg);
    }
}

#[test]
fn server_refusals_name_the_argument_and_the_system_error() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    // SAFETY: `srv` is live until freed below; strings are live locals.
    unsafe {
        let srv = fastserve_server_new(ptr::null());
        let (get, get_len) = s("GET");
        let (path, path_len) = s("hello");
        let (ct, ct_len) = s("text/plain");
        let r = fastserve_server_route_static(
            srv,
            get,
            get_len,
            path,
            path_len,
            0,
            200,
            ct,
            ct_len,
            ptr::null(),
            0,
        );
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(
            last_error(),
            r#"route path "hello" must start with '/' (or be "*", or an authority for CONNECT)"#
        );
        let (path, path_len) = s("/hello");
        let r = fastserve_server_route_static(
            srv,
            get,
            get_len,
            path,
            path_len,
            0,
            99,
            ct,
            ct_len,
            ptr::null(),
            0,
        );
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "status 99 is outside 200..999");
        for (m, p, why) in [
            (
                "G ET",
                "/a",
                "method \"G ET\" is not a token (letters, digits and !#$%&'*+-.^_`|~)",
            ),
            ("GET", "/a/{id", "route path \"/a/{id\": unbalanced braces"),
            (
                "GET",
                "/{x}/{x}",
                "route path \"/{x}/{x}\": parameter \"x\" appears twice",
            ),
        ] {
            let ((m, ml), (p, pl)) = (s(m), s(p));
            let r = fastserve_server_route_static(
                srv,
                m,
                ml,
                p,
                pl,
                0,
                200,
                ct,
                ct_len,
                ptr::null(),
                0,
            );
            assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
            assert_eq!(last_error(), why);
        }
        let r = fastserve_server_set_error_page(srv, 500, ct, ct_len, ptr::null(), 0);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "error page status 500 is not 404 or 405");

        assert_eq!(fastserve_server_start(srv), FASTSERVE_RESULT_NOT_STARTED);
        assert!(last_error().contains("not listening"), "{}", last_error());
        let (host, host_len) = s("no-such-host.invalid");
        assert_eq!(
            fastserve_server_listen(srv, host, host_len, port),
            FASTSERVE_RESULT_IO
        );
        let e = last_error();
        assert!(
            e.starts_with(&format!("listen on no-such-host.invalid:{port}: ")),
            "{e}"
        );
        let (host, host_len) = s("127.0.0.1");
        assert_eq!(
            fastserve_server_listen(srv, host, host_len, port),
            FASTSERVE_RESULT_IO
        );
        let e = last_error();
        assert!(
            e.starts_with(&format!("listen on 127.0.0.1:{port}: ")),
            "{e}"
        );
        assert!(e.contains("in use"), "{e}");

        let status = [200u32];
        let r = fastserve_server_complete(
            srv,
            [1u64].as_ptr(),
            status.as_ptr(),
            ptr::null(),
            ptr::null(),
            1,
            ptr::null(),
            0,
            ptr::null_mut(),
        );
        assert_eq!(r, FASTSERVE_RESULT_NOT_STARTED);
        assert_eq!(last_error(), "the server has not started");
        assert_eq!(
            fastserve_server_stop(ptr::null()),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(last_error(), "srv is NULL");
        fastserve_server_free(srv);
    }
}

#[test]
fn conn_refusals_explain_the_header_line() {
    // SAFETY: `c` is live until freed below; strings are live locals.
    unsafe {
        let c = fastserve_conn_new(ptr::null());
        let req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3);
        let mut b = fastserve_conn_batch {
            requests: ptr::null(),
            count: 0,
            data: ptr::null(),
            data_len: 0,
        };
        let (p, n) = s(&req);
        assert_eq!(fastserve_conn_feed(c, p, n, &mut b), FASTSERVE_RESULT_OK);
        assert_eq!(b.count, 3);
        let respond = |id, headers: &str| {
            let (h, hl) = s(headers);
            fastserve_conn_respond(c, id, 200, h, hl, ptr::null(), 0)
        };
        assert_eq!(respond(0, "X Y: z\r\n"), FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(
            last_error(),
            r#"header name "X Y" is not a token; answered 500"#
        );
        assert_eq!(
            respond(1, "content-length: 1\r\n"),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(
            last_error(),
            r#"header "content-length" is set by the engine; answered 500"#
        );
        assert_eq!(respond(2, "X: 1\r\nY"), FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(
            last_error(),
            r#"header line "Y" does not end with CRLF; answered 500"#
        );
        assert_eq!(respond(2, ""), FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "request 2 is not waiting for an answer");

        let unsent = fastserve_conn_unsent(c);
        assert_eq!(
            fastserve_conn_written(c, unsent + 1),
            FASTSERVE_RESULT_INVALID_ARGUMENT
        );
        assert_eq!(
            last_error(),
            format!(
                "{} bytes written, but only {unsent} were waiting",
                unsent + 1
            )
        );
        assert_eq!(
            fastserve_conn_feed(c, ptr::null(), 5, ptr::null_mut()),
            FASTSERVE_RESULT_NULL_ARGUMENT
        );
        assert_eq!(last_error(), "data is NULL but its length is 5");
        fastserve_conn_free(c);
    }
}

#[test]
fn parse_errors_get_the_codes_name_and_partial_is_no_failure() {
    let mut line = fastserve_request_line {
        method: ptr::null(),
        method_len: 0,
        path: ptr::null(),
        path_len: 0,
        minor_version: 0,
    };
    let mut headers = [fastserve_header {
        name: ptr::null(),
        name_len: 0,
        value: ptr::null(),
        value_len: 0,
    }; 4];
    let parse = |buf: &str,
                 mode: u32,
                 line: &mut fastserve_request_line,
                 h: &mut [fastserve_header]| {
        let (mut n, mut used) = (h.len(), 0);
        let (p, len) = s(buf);
        // SAFETY: every pointer refers to a live local of the right size.
        unsafe { fastserve_parse_request(p, len, mode, line, h.as_mut_ptr(), &mut n, &mut used) }
    };
    let r = parse(
        "G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
        0,
        &mut line,
        &mut headers,
    );
    assert_eq!(r, FASTSERVE_RESULT_BAD_METHOD);
    assert_eq!(last_error(), "invalid method");
    let r = parse("GET / HTTP/1.1\r\nHost: x\r\n", 0, &mut line, &mut headers);
    assert_eq!(r, FASTSERVE_RESULT_PARTIAL);
    assert_eq!(last_error(), "invalid method");
    let r = parse(
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        2,
        &mut line,
        &mut headers,
    );
    assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
    assert_eq!(
        last_error(),
        "mode 2 is not FASTSERVE_PARSE_STRICT (0) or FASTSERVE_PARSE_PICO (1)"
    );
}

#[test]
fn each_thread_has_its_own_detail() {
    let cfg = fastserve_config_new();
    // SAFETY: `cfg` is live until freed below.
    assert_eq!(
        unsafe { fastserve_config_set_workers(cfg, 0) },
        FASTSERVE_RESULT_INVALID_ARGUMENT
    );
    let elsewhere = std::thread::spawn(last_error).join().unwrap();
    assert_eq!(elsewhere, "");
    assert_eq!(last_error(), "workers must not be 0");
    // SAFETY: from fastserve_config_new, freed once.
    unsafe { fastserve_config_free(cfg) };
}

#[test]
fn file_calls_say_what_is_wrong() {
    use fastserve::ffi::request::fastserve_response_file;
    // SAFETY: NULL and negative arguments are what is checked; `srv` is live
    // until freed below; strings are live locals.
    unsafe {
        let r = fastserve_response_file(ptr::null_mut(), -1, 0, 0);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "fd -1 is not an open descriptor");
        // the descriptor is taken (and closed) even when `res` is NULL
        let f = std::fs::File::open("Cargo.toml").unwrap();
        let fd = std::os::fd::IntoRawFd::into_raw_fd(f);
        let r = fastserve_response_file(ptr::null_mut(), fd, 0, 1);
        assert_eq!(r, FASTSERVE_RESULT_NULL_ARGUMENT);

        let srv = fastserve_server_new(ptr::null());
        let (prefix, prefix_len) = s("/static");
        let (root, root_len) = s("/no/such/dir");
        let r = fastserve_server_route_dir(srv, prefix, prefix_len, root, root_len, 0);
        assert_eq!(r, FASTSERVE_RESULT_IO);
        assert!(
            last_error().starts_with("directory route root \"/no/such/dir\": "),
            "{}",
            last_error()
        );
        let (root, root_len) = s(".");
        let r = fastserve_server_route_dir(srv, prefix, prefix_len, root, root_len, 8);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        assert_eq!(last_error(), "unknown directory route flags 0x8");
        let (bad, bad_len) = s("static");
        let r = fastserve_server_route_dir(srv, bad, bad_len, root, root_len, 0);
        assert_eq!(r, FASTSERVE_RESULT_INVALID_ARGUMENT);
        let r = fastserve_server_route_dir(
            srv,
            prefix,
            prefix_len,
            root,
            root_len,
            FASTSERVE_DIR_INDEX | FASTSERVE_DIR_FOLLOW_SYMLINKS,
        );
        assert_eq!(r, FASTSERVE_RESULT_OK);
        fastserve_server_free(srv);
    }
}
