// Invariants shared by the fuzz targets (fuzz/) and the corpus replay test.
// Each check panics when an invariant breaks.
#![allow(dead_code)]

use fastserve::parse::{
    parse_headers, parse_request, parse_response, ChunkedDecoder, Config, Decoded, Error, Header,
    Kernel, Mode, Status,
};

fn owned(h: &[Header]) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    h.iter()
        .map(|h| {
            (
                (!h.is_continuation()).then(|| h.name().to_vec()),
                h.value().to_vec(),
            )
        })
        .collect()
}

type Req = Result<Option<(usize, Vec<u8>, Vec<u8>, u8, Vec<(Option<Vec<u8>>, Vec<u8>)>)>, Error>;

pub fn request_with(data: &[u8], mode: Mode, k: Kernel, max: usize) -> Req {
    let mut h = vec![Header::EMPTY; max];
    let cfg = Config {
        mode,
        kernel: Some(k),
    };
    parse_request(data, &mut h, &cfg).map(|s| match s {
        Status::Complete { len, value: r } => Some((
            len,
            r.method.to_vec(),
            r.path.to_vec(),
            r.minor_version,
            owned(&h[..r.headers]),
        )),
        Status::Partial => None,
    })
}

/// Every kernel agrees; strict accepts nothing that pico rejects.
pub fn check_request(data: &[u8]) {
    for mode in [Mode::Strict, Mode::Pico] {
        let kernels = Kernel::supported();
        let first = request_with(data, mode, kernels[0], 16);
        for &k in &kernels[1..] {
            assert_eq!(
                first,
                request_with(data, mode, k, 16),
                "kernel {k:?} disagrees, mode {mode:?}"
            );
        }
    }
    let strict = request_with(data, Mode::Strict, Kernel::best(), 16);
    let pico = request_with(data, Mode::Pico, Kernel::best(), 16);
    if let Ok(Some(s)) = &strict {
        assert_eq!(
            Ok(Some(s.clone())),
            pico,
            "strict accepted what pico parses differently"
        );
    }
    if let Ok(None) = strict {
        assert!(pico.is_ok(), "strict says partial where pico rejects");
    }
}

pub fn check_response(data: &[u8]) {
    for mode in [Mode::Strict, Mode::Pico] {
        let run = |k| {
            let mut h = vec![Header::EMPTY; 16];
            let cfg = Config {
                mode,
                kernel: Some(k),
            };
            parse_response(data, &mut h, &cfg).map(|s| {
                s.complete().map(|(len, r)| {
                    (
                        len,
                        r.status,
                        r.minor_version,
                        r.reason.to_vec(),
                        owned(&h[..r.headers]),
                    )
                })
            })
        };
        let kernels = Kernel::supported();
        let first = run(kernels[0]);
        for &k in &kernels[1..] {
            assert_eq!(
                first,
                run(k),
                "response: kernel {k:?} disagrees, mode {mode:?}"
            );
        }
    }
}

pub fn check_headers(data: &[u8]) {
    for mode in [Mode::Strict, Mode::Pico] {
        let run = |k| {
            let mut h = vec![Header::EMPTY; 16];
            let cfg = Config {
                mode,
                kernel: Some(k),
            };
            parse_headers(data, &mut h, &cfg)
                .map(|s| s.complete().map(|(len, n)| (len, owned(&h[..n]))))
        };
        let kernels = Kernel::supported();
        let first = run(kernels[0]);
        for &k in &kernels[1..] {
            assert_eq!(
                first,
                run(k),
                "headers: kernel {k:?} disagrees, mode {mode:?}"
            );
        }
    }
}

/// Decodes `data` whole, and again split at `split`: the outcomes agree.
pub fn chunked_split(
    data: &[u8],
    split: usize,
    mode: Mode,
    trailer: bool,
) -> (
    Result<(Vec<u8>, Option<Vec<u8>>), Error>,
    Result<(Vec<u8>, Option<Vec<u8>>), Error>,
) {
    let whole = {
        let mut d = ChunkedDecoder::new(trailer);
        let mut b = data.to_vec();
        d.decode(&mut b, mode).map(|r| match r {
            Decoded::Complete { len, rest } => {
                (b[..len].to_vec(), Some(b[len..len + rest].to_vec()))
            }
            Decoded::Partial { len } => (b[..len].to_vec(), None),
        })
    };
    let split = split.min(data.len());
    let pieces = {
        let mut d = ChunkedDecoder::new(trailer);
        let mut body = Vec::new();
        let mut out = Ok((Vec::new(), None));
        for (idx, part) in [&data[..split], &data[split..]].into_iter().enumerate() {
            let mut b = part.to_vec();
            match d.decode(&mut b, mode) {
                Ok(Decoded::Partial { len }) => body.extend_from_slice(&b[..len]),
                Ok(Decoded::Complete { len, rest }) => {
                    body.extend_from_slice(&b[..len]);
                    let mut after = b[len..len + rest].to_vec();
                    if idx == 0 {
                        after.extend_from_slice(&data[split..]);
                    }
                    out = Ok((body.clone(), Some(after)));
                    break;
                }
                Err(e) => {
                    out = Err(e);
                    break;
                }
            }
            out = Ok((body.clone(), None));
        }
        out
    };
    (whole, pieces)
}

/// The decoder's framing-overhead guard (a trailer counts as overhead).
const OVERHEAD_LIMIT: usize = 100 * 1024;

/// A strict decoder takes a trailer section exactly when the strict header
/// parser takes it as a header section, and ends it at the same byte. An
/// unfinished section may instead trip the decoder's overhead guard once it
/// is that long: the header parser has no size limit of its own.
pub fn check_trailers(section: &[u8]) {
    let mut buf = b"0\r\n".to_vec();
    buf.extend_from_slice(section);
    let mut d = ChunkedDecoder::new(true);
    let decoded = d.decode(&mut buf, Mode::Strict);
    let mut h = vec![Header::EMPTY; section.len() / 2 + 1];
    let cfg = Config {
        mode: Mode::Strict,
        kernel: None,
    };
    let parsed = parse_headers(section, &mut h, &cfg);
    match (decoded, parsed) {
        (Ok(Decoded::Complete { len: 0, rest }), Ok(Status::Complete { len, .. })) => {
            assert_eq!(
                section.len() - rest,
                len,
                "trailers end elsewhere than headers"
            )
        }
        (Ok(Decoded::Partial { .. }), Ok(Status::Partial)) | (Err(_), Err(_)) => {}
        (Err(Error::ChunkOverhead), Ok(Status::Partial)) if section.len() >= OVERHEAD_LIMIT => {}
        (d, p) => panic!("trailers {d:?} but headers {p:?} for {section:?}"),
    }
}

pub fn check_chunked(data: &[u8]) {
    check_trailers(data);
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let split = seed as usize % (rest.len() + 1);
    for mode in [Mode::Strict, Mode::Pico] {
        for trailer in [false, true] {
            let (whole, pieces) = chunked_split(rest, split, mode, trailer);
            // The overhead guard counts per call, so a split may trip it at a
            // different point; otherwise the outcomes must match exactly.
            if !matches!(whole, Err(Error::ChunkOverhead))
                && !matches!(pieces, Err(Error::ChunkOverhead))
            {
                assert_eq!(
                    whole, pieces,
                    "chunked split at {split} disagrees, mode {mode:?} trailer {trailer}"
                );
            }
            if mode == Mode::Strict {
                if let Ok((body, Some(_))) = &whole {
                    let (pico, _) = chunked_split(rest, split, Mode::Pico, trailer);
                    assert_eq!(
                        pico.as_ref().map(|p| &p.0),
                        Ok(body),
                        "strict accepted a body pico decodes differently"
                    );
                }
            }
        }
    }
}
