//! Route patterns with path parameters: `/users/{id}` captures one
//! non-empty segment, `/files/{path*}` the non-empty rest of the path.
//! Matching is on the raw path; captured values are percent-decoded once
//! the whole pattern matched.

use std::fmt;

use percent_encoding::percent_decode;

/// One segment of a pattern (between two `/`).
#[derive(Debug, PartialEq, Eq)]
enum Seg {
    Lit(Box<[u8]>),
    /// `{name}`: one non-empty segment.
    Param,
    /// `{name*}`: the non-empty rest of the path, `/` included; last only.
    Tail,
}

/// A route path with at least one parameter.
#[derive(Debug)]
pub(crate) struct Pattern {
    segs: Vec<Seg>,
    /// Parameter names, in the order they appear.
    pub(crate) names: Vec<Box<[u8]>>,
    /// The literal bytes before the first parameter: a cheap first test.
    lead: Box<[u8]>,
    /// Segment kinds (0 literal, 1 parameter, 2 tail), compared as a
    /// sequence: at the first segment where two patterns differ, a literal
    /// beats a parameter, which beats a tail.
    pub(crate) rank: Vec<u8>,
}

/// Why a route was refused at registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError(pub(crate) String);

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RouteError {}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Checks that `m` is a method token (RFC 9110 section 9.1).
pub(crate) fn check_method(m: &[u8]) -> Result<(), RouteError> {
    if m.is_empty() || !m.iter().all(|&b| crate::parse::scan::TOKEN[b as usize]) {
        return Err(RouteError(format!(
            "method \"{}\" is not a token (letters, digits and !#$%&'*+-.^_`|~)",
            show(m).escape_default()
        )));
    }
    Ok(())
}

/// Parses a route path. `Ok(None)`: no parameters, an exact or prefix path.
pub(crate) fn parse(path: &[u8], prefix: bool) -> Result<Option<Pattern>, RouteError> {
    let err = |why: &str| Err(RouteError(format!("route path \"{}\": {why}", show(path))));
    if path.first() != Some(&b'/') && path != b"*" {
        return err("must start with '/' (or be \"*\")");
    }
    if !path.iter().any(|&b| b == b'{' || b == b'}') {
        return Ok(None);
    }
    if prefix {
        return err(
            "a prefix route takes no parameters (a tail parameter {name*} captures the rest)",
        );
    }
    let parts: Vec<&[u8]> = path[1..].split(|&b| b == b'/').collect();
    let mut segs = Vec::with_capacity(parts.len());
    let mut names: Vec<Box<[u8]>> = Vec::new();
    for (i, s) in parts.iter().enumerate() {
        let opens = s.iter().filter(|&&b| b == b'{').count();
        let closes = s.iter().filter(|&&b| b == b'}').count();
        if opens == 0 && closes == 0 {
            segs.push(Seg::Lit((*s).into()));
            continue;
        }
        if opens != closes {
            return err("unbalanced braces");
        }
        if opens > 1 || s.first() != Some(&b'{') || s.last() != Some(&b'}') {
            return err("a parameter takes a whole segment, as in /a/{name}/b");
        }
        let mut name = &s[1..s.len() - 1];
        let tail = name.last() == Some(&b'*');
        if tail {
            name = &name[..name.len() - 1];
            if i + 1 != parts.len() {
                return err("a tail parameter {name*} must be the last segment");
            }
        }
        if name.is_empty() {
            return err("a parameter needs a name");
        }
        if !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
            return err("a parameter name holds only letters, digits and '_'");
        }
        if names.iter().any(|n| &n[..] == name) {
            return Err(RouteError(format!(
                "route path \"{}\": parameter \"{}\" appears twice",
                show(path),
                show(name)
            )));
        }
        names.push(name.into());
        segs.push(if tail { Seg::Tail } else { Seg::Param });
    }
    let lead_len = path.iter().position(|&b| b == b'{').unwrap_or(path.len());
    let rank = segs
        .iter()
        .map(|s| match s {
            Seg::Lit(_) => 0,
            Seg::Param => 1,
            Seg::Tail => 2,
        })
        .collect();
    Ok(Some(Pattern {
        segs,
        names,
        lead: path[..lead_len].into(),
        rank,
    }))
}

/// Every pattern of a router, as a tree of segments: one walk down the
/// path finds the first pattern in rank order (a literal child before the
/// parameter child before a tail, registration order among equals) whose
/// method also matches.
pub(crate) struct Tree {
    lits: Vec<(Box<[u8]>, Tree)>,
    param: Option<Box<Tree>>,
    /// Patterns that end here, by index, in registration order.
    ends: Vec<usize>,
    /// Patterns whose tail parameter starts here.
    tails: Vec<usize>,
    /// How many more segments a path may have for a pattern below to
    /// match: bit k for exactly k, and any number from `at_least` on (a
    /// tail; also a pattern longer than 63 segments). Prunes a branch
    /// before it is walked.
    exactly: u64,
    at_least: usize,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            lits: Vec::new(),
            param: None,
            ends: Vec::new(),
            tails: Vec::new(),
            exactly: 0,
            at_least: usize::MAX,
        }
    }
}

impl Tree {
    fn note(&mut self, more: usize, tail: bool) {
        if tail || more >= 64 {
            self.at_least = self.at_least.min(more.min(64));
        } else {
            self.exactly |= 1 << more;
        }
    }

    #[inline]
    fn fits(&self, more: usize) -> bool {
        (more < 64 && self.exactly >> more & 1 == 1) || more >= self.at_least
    }

    pub(crate) fn insert(&mut self, p: &Pattern, index: usize) {
        let n = p.segs.len();
        let tail = matches!(p.segs.last(), Some(Seg::Tail));
        let mut node = self;
        for (j, seg) in p.segs.iter().enumerate() {
            node.note(n - j, tail);
            node = match seg {
                Seg::Lit(l) => {
                    let i = match node.lits.iter().position(|(x, _)| x == l) {
                        Some(i) => i,
                        None => {
                            node.lits.push((l.clone(), Tree::default()));
                            node.lits.len() - 1
                        }
                    };
                    &mut node.lits[i].1
                }
                Seg::Param => node.param.get_or_insert_with(Default::default),
                Seg::Tail => return node.tails.push(index),
            };
        }
        node.note(0, false);
        node.ends.push(index);
    }

    /// The first pattern, in rank order, that matches `path` and for which
    /// `ok(index)` holds; its values (raw) are left in `params`.
    #[inline]
    pub(crate) fn find(
        &self,
        path: &[u8],
        params: &mut Params,
        ok: &impl Fn(usize) -> bool,
    ) -> Option<usize> {
        if path.first() != Some(&b'/') {
            return None;
        }
        params.clear();
        // u8 counters per chunk vectorise well
        let segs: usize = path
            .chunks(255)
            .map(|c| c.iter().fold(0u8, |n, &b| n + (b == b'/') as u8) as usize)
            .sum();
        self.walk(path, 0, segs, params, ok)
    }

    /// `at` is a '/' of `path` or its end; `more` segments follow it.
    fn walk(
        &self,
        path: &[u8],
        at: usize,
        more: usize,
        params: &mut Params,
        ok: &impl Fn(usize) -> bool,
    ) -> Option<usize> {
        if !self.fits(more) {
            return None;
        }
        if at == path.len() {
            return self.ends.iter().copied().find(|&i| ok(i));
        }
        let start = at + 1;
        // segments are short: a plain loop beats a memchr call
        let end = path[start..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(path.len(), |n| start + n);
        let seg = &path[start..end];
        let lit = self
            .lits
            .iter()
            .find(|(l, _)| l.first() == seg.first() && &l[..] == seg);
        if let Some((_, t)) = lit {
            if let Some(i) = t.walk(path, end, more - 1, params, ok) {
                return Some(i);
            }
        }
        if let Some(t) = &self.param {
            if !seg.is_empty() {
                params.spans.push(Span {
                    start,
                    end,
                    decoded: false,
                });
                if let Some(i) = t.walk(path, end, more - 1, params, ok) {
                    return Some(i);
                }
                params.spans.pop();
            }
        }
        if start < path.len() {
            if let Some(i) = self.tails.iter().copied().find(|&i| ok(i)) {
                params.spans.push(Span {
                    start,
                    end: path.len(),
                    decoded: false,
                });
                return Some(i);
            }
        }
        None
    }
}

/// Where a captured value is: in the path, or in `Params::decoded`.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    decoded: bool,
}

/// The values one match captured, in the pattern's name order. One per
/// worker, reused: after warm-up matching allocates nothing.
#[derive(Default, Debug)]
pub struct Params {
    spans: Vec<Span>,
    decoded: Vec<u8>,
}

impl Params {
    pub(crate) fn clear(&mut self) {
        self.spans.clear();
        self.decoded.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The `i`-th value; `path` is the path the match ran on.
    pub(crate) fn get<'a>(&'a self, path: &'a [u8], i: usize) -> Option<&'a [u8]> {
        let s = self.spans.get(i)?;
        Some(if s.decoded {
            &self.decoded[s.start..s.end]
        } else {
            &path[s.start..s.end]
        })
    }
}

impl Pattern {
    /// Matches `path`; on success `params` holds the decoded values.
    #[inline]
    pub(crate) fn matches(&self, path: &[u8], params: &mut Params) -> bool {
        if !path.starts_with(&self.lead) {
            return false;
        }
        params.clear();
        let mut at = 0; // at a '/' of `path`, or at its end
        for seg in &self.segs {
            if path.get(at) != Some(&b'/') {
                return false;
            }
            at += 1;
            let rest = &path[at..];
            match seg {
                Seg::Lit(l) => {
                    if !rest.starts_with(l) || rest.get(l.len()).is_some_and(|&b| b != b'/') {
                        return false;
                    }
                    at += l.len();
                }
                Seg::Param => {
                    let n = memchr::memchr(b'/', rest).unwrap_or(rest.len());
                    if n == 0 {
                        return false;
                    }
                    params.spans.push(Span {
                        start: at,
                        end: at + n,
                        decoded: false,
                    });
                    at += n;
                }
                Seg::Tail => {
                    if rest.is_empty() {
                        return false;
                    }
                    params.spans.push(Span {
                        start: at,
                        end: path.len(),
                        decoded: false,
                    });
                    at = path.len();
                }
            }
        }
        if at != path.len() {
            return false;
        }
        params.decode(path);
        true
    }

    /// Whether `path` matches, capturing nothing.
    pub(crate) fn matches_path(&self, path: &[u8]) -> bool {
        // the error path only: a throwaway capture buffer is fine
        self.matches(path, &mut Params::default())
    }
}

impl Params {
    /// Percent-decodes the captured values that need it.
    pub(crate) fn decode(&mut self, path: &[u8]) {
        for s in &mut self.spans {
            let raw = &path[s.start..s.end];
            if raw.contains(&b'%') {
                let start = self.decoded.len();
                self.decoded.extend(percent_decode(raw));
                *s = Span {
                    start,
                    end: self.decoded.len(),
                    decoded: true,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(p: &str) -> Pattern {
        parse(p.as_bytes(), false).unwrap().unwrap()
    }

    fn capture(p: &str, path: &str) -> Option<Vec<String>> {
        let pat = pat(p);
        let mut ps = Params::default();
        pat.matches(path.as_bytes(), &mut ps).then(|| {
            (0..ps.len())
                .map(|i| show(ps.get(path.as_bytes(), i).unwrap()))
                .collect()
        })
    }

    #[test]
    fn captures_segments_and_tails() {
        assert_eq!(capture("/users/{id}", "/users/42"), Some(vec!["42".into()]));
        assert_eq!(capture("/users/{id}", "/users/"), None);
        assert_eq!(capture("/users/{id}", "/users/42/"), None);
        assert_eq!(capture("/users/{id}", "/users/4/2"), None);
        assert_eq!(capture("/users/{id}", "/usersx/42"), None);
        assert_eq!(
            capture("/a/{x}/b/{y}", "/a/1/b/2"),
            Some(vec!["1".into(), "2".into()])
        );
        assert_eq!(capture("/a/{x}/b/{y}", "/a/1/bb/2"), None);
        assert_eq!(
            capture("/files/{path*}", "/files/a/b%20c/"),
            Some(vec!["a/b c/".into()])
        );
        assert_eq!(capture("/files/{path*}", "/files/"), None);
        assert_eq!(capture("/files/{path*}", "/files"), None);
        assert_eq!(capture("/{a}", "/%2F"), Some(vec!["/".into()]));
        assert_eq!(capture("/{a}", "/%zz%4"), Some(vec!["%zz%4".into()]));
    }

    #[test]
    fn the_tree_finds_what_a_scan_in_rank_order_finds() {
        let pats: Vec<Pattern> = [
            "/{a}",
            "/{a}/{b}",
            "/x/{a}",
            "/{a}/y",
            "/x/{a}/z",
            "/{a}/{b}/z",
            "/x/{t*}",
            "/{t*}",
            "/x/y/{a}",
            "/{a}/y/{t*}",
            "/x/{a}/{b}",
            "/x//{a}",
            "/{a}/",
        ]
        .iter()
        .map(|p| pat(p))
        .collect();
        let mut tree = Tree::default();
        for (i, p) in pats.iter().enumerate() {
            tree.insert(p, i);
        }
        let mut ranked: Vec<usize> = (0..pats.len()).collect();
        ranked.sort_by(|&a, &b| pats[a].rank.cmp(&pats[b].rank));
        let parts = ["x", "y", "z", "", "%2F"];
        let mut paths = vec![];
        for n in 1..=4 {
            for k in 0..parts.len().pow(n) {
                let mut p = String::new();
                for d in 0..n {
                    p.push('/');
                    p.push_str(parts[k / parts.len().pow(d) % parts.len()]);
                }
                paths.push(p);
            }
        }
        let mut ps = Params::default();
        for path in &paths {
            let b = path.as_bytes();
            // every third pattern refuses the method
            for odd in [false, true] {
                let ok = |i: usize| !odd || i % 3 != 0;
                let want = ranked
                    .iter()
                    .copied()
                    .find(|&i| ok(i) && pats[i].matches(b, &mut ps));
                let want_vals: Vec<Vec<u8>> = (0..ps.len())
                    .filter(|_| want.is_some())
                    .map(|i| ps.get(b, i).unwrap().to_vec())
                    .collect();
                let got = tree.find(b, &mut ps, &ok);
                ps.decode(b);
                assert_eq!(got, want, "{path} odd={odd}");
                if got.is_some() {
                    let vals: Vec<Vec<u8>> = (0..ps.len())
                        .map(|i| ps.get(b, i).unwrap().to_vec())
                        .collect();
                    assert_eq!(vals, want_vals, "{path}");
                }
            }
        }
    }

    #[test]
    fn refuses_malformed_patterns() {
        for (p, why) in [
            ("/a/{id", "unbalanced"),
            ("/a/id}", "unbalanced"),
            ("/a/{}", "needs a name"),
            ("/a/{*}", "needs a name"),
            ("/a/{x}{y}", "whole segment"),
            ("/a/x{y}", "whole segment"),
            ("/a/{{x}}", "whole segment"),
            ("/{x}/{x}", "appears twice"),
            ("/{rest*}/x", "last segment"),
            ("/{a-b}", "letters, digits"),
            ("users/{id}", "start with '/'"),
        ] {
            let e = parse(p.as_bytes(), false).unwrap_err().to_string();
            assert!(e.contains(why), "{p}: {e}");
        }
        let e = parse(b"/a/{x}", true).unwrap_err().to_string();
        assert!(e.contains("prefix route takes no parameters"), "{e}");
        assert!(parse(b"/plain", false).unwrap().is_none());
        assert!(check_method(b"PURGE").is_ok());
        assert!(check_method(b"G ET").is_err());
        assert!(check_method(b"").is_err());
    }
}
