//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/`) through the same
//! invariants the fuzz targets check, so a plain `cargo test` on stable Rust
//! covers every input the fuzzer has kept.

mod support {
    pub mod conn_checks;
    pub mod fuzz_checks;
    pub mod proxy_checks;
}

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use support::conn_checks::{check_conn, check_framing_diff};
use support::fuzz_checks::{check_chunked, check_headers, check_request, check_response};
use support::proxy_checks::check_proxy;

/// A fuzz target's invariant: panics when it breaks.
type Check = fn(&[u8]);

/// Fuzz target name (the corpus directory) and the check it runs.
const TARGETS: &[(&str, Check)] = &[
    ("parse_request", check_request),
    ("parse_response", check_response),
    ("parse_headers", check_headers),
    ("chunked", check_chunked),
    ("conn", check_conn),
    ("framing_diff", check_framing_diff),
    ("proxy_header", check_proxy),
];

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus")
}

/// Visible entries of `dir`, sorted (libFuzzer's scratch directories start with a dot).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let list = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out: Vec<PathBuf> = list
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    out.sort();
    out
}

fn replay(target: &str) {
    let check = TARGETS.iter().find(|t| t.0 == target).unwrap().1;
    let dir = corpus_root().join(target);
    let files: Vec<PathBuf> = entries(&dir).into_iter().filter(|p| p.is_file()).collect();
    assert!(!files.is_empty(), "{}: the corpus is empty", dir.display());
    let mut failed = Vec::new();
    for path in &files {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if panic::catch_unwind(|| check(&data)).is_err() {
            let shown = &data[..data.len().min(200)];
            let more = if shown.len() < data.len() { "..." } else { "" };
            failed.push(format!(
                "{}: \"{}\"{more}",
                path.display(),
                shown.escape_ascii()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} corpus inputs break an invariant:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn corpus_parse_request() {
    replay("parse_request");
}

#[test]
fn corpus_parse_response() {
    replay("parse_response");
}

#[test]
fn corpus_parse_headers() {
    replay("parse_headers");
}

#[test]
fn corpus_chunked() {
    replay("chunked");
}

#[test]
fn corpus_conn() {
    replay("conn");
}

#[test]
fn corpus_framing_diff() {
    replay("framing_diff");
}

/// The framing model with the input after the head as the trailer section
/// of a chunked body: refused as a header section is, taken when valid.
#[test]
fn framing_diff_judges_the_trailer_section() {
    let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for trailer in [
        "X: 1\r\n\r\n",
        "X: 1\r\nY:\t2 \r\n\r\n",
        "X : 1\r\n\r\n",
        " X: 1\r\n\r\n",
        "X: 1\r\n folded\r\n\r\n",
        "no colon\r\n\r\n",
        "X: a\x01b\r\n\r\n",
        "\r\n",
        "X: 1\r\n",
        "",
    ] {
        check_framing_diff(format!("{head}{trailer}").as_bytes());
    }
}

#[test]
fn corpus_proxy_header() {
    replay("proxy_header");
}

/// Every corpus directory belongs to a target replayed above, and every target has one.
#[test]
fn corpus_directories_match_targets() {
    let dirs: Vec<String> = entries(&corpus_root())
        .into_iter()
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for d in &dirs {
        assert!(
            TARGETS.iter().any(|t| t.0 == d),
            "fuzz/corpus/{d} has no replay check: add it to TARGETS"
        );
    }
    for t in TARGETS {
        assert!(
            dirs.iter().any(|d| d == t.0),
            "fuzz/corpus/{} is missing",
            t.0
        );
    }
}
