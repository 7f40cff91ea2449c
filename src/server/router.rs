//! Routes: a method (or any) and an exact path, a pattern with parameters
//! or a path prefix, leading to a static response, a handler or a batch;
//! and the answers when none matches.
//!
//! A request goes to the first route, in this order, whose path matches and
//! whose method matches: exact paths (a scan of a few, a hash lookup of
//! many), then patterns (a
//! literal segment before a parameter before a tail, at the first segment
//! where two differ), then prefixes (longest first); registration order
//! breaks ties. A GET route also answers HEAD.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use super::pattern::{self, Params, Pattern, RouteError, Tree};
use super::response::ResponseBuilder;
use crate::proto::bytes::same;
use crate::proto::{BodyPlan, Request, StaticResponse};

/// Application code behind a route. Runs on a worker thread.
pub trait Handler: Send + Sync {
    /// Fills `res` (or defers it). `Err` answers 500 unless already sent;
    /// there is nothing more to say about a failure than that.
    #[allow(clippy::result_unit_err)]
    fn call(&self, req: &Routed<'_>, res: &mut ResponseBuilder) -> Result<(), ()>;
}

/// A request and the path parameters its route captured; derefs to the
/// [`Request`].
pub struct Routed<'a> {
    req: &'a Request<'a>,
    names: &'a [Box<[u8]>],
    params: &'a Params,
}

impl<'a> Routed<'a> {
    /// A request routed to a route without parameters.
    pub fn new(req: &'a Request<'a>, params: &'a Params) -> Self {
        Routed {
            req,
            names: &[],
            params,
        }
    }

    pub(crate) fn with_params(
        req: &'a Request<'a>,
        names: &'a [Box<[u8]>],
        params: &'a Params,
    ) -> Self {
        Routed { req, names, params }
    }

    pub fn request(&self) -> &'a Request<'a> {
        self.req
    }

    /// The percent-decoded value of the parameter `name`.
    pub fn param(&self, name: &[u8]) -> Option<&'a [u8]> {
        let i = self.names.iter().position(|n| &n[..] == name)?;
        self.params.get(self.req.path, i)
    }

    /// How many parameters the route has.
    pub fn param_count(&self) -> usize {
        self.names.len().min(self.params.len())
    }

    /// The `i`-th parameter: its name and percent-decoded value.
    pub fn param_at(&self, i: usize) -> Option<(&'a [u8], &'a [u8])> {
        if i >= self.param_count() {
            return None;
        }
        Some((&self.names[i], self.params.get(self.req.path, i)?))
    }
}

impl<'a> Deref for Routed<'a> {
    type Target = Request<'a>;
    fn deref(&self) -> &Request<'a> {
        self.req
    }
}

pub enum Target {
    Static(StaticResponse),
    Handler(Arc<dyn Handler>),
    /// A batch route: its requests go to the server's batch handler, tagged.
    Batch(u32),
}

struct Entry {
    /// `None` matches every method.
    method: Option<Box<[u8]>>,
    /// As registered (for [`Router::set_plan`]).
    path: Box<[u8]>,
    target: Target,
    plan: BodyPlan,
}

impl Entry {
    #[inline]
    fn allows(&self, method: &[u8]) -> bool {
        match &self.method {
            None => true,
            Some(m) => same(m, method) || (same(method, b"HEAD") && same(m, b"GET")),
        }
    }
}

/// The first eight bytes of `p`, zero-padded, as one word; four to seven
/// bytes in two overlapping loads.
#[inline]
fn head_word(p: &[u8]) -> u64 {
    let half = |i: usize| u64::from(u32::from_le_bytes(p[i..i + 4].try_into().unwrap()));
    match p.len() {
        8.. => u64::from_le_bytes(p[..8].try_into().unwrap()),
        n @ 4..=7 => half(0) | half(n - 4) << ((n - 4) * 8),
        _ => p.iter().rev().fold(0, |w, &b| w << 8 | b as u64),
    }
}

/// An exact path and its routes, with what a scan compares first.
struct ExactPath {
    head: u64,
    path: Box<[u8]>,
    entries: Vec<Entry>,
}

/// Up to this many exact paths are scanned (length and first word first)
/// rather than hashed: cheaper for the few routes most servers have.
const SCAN_MAX: usize = 8;

/// FxHash (as in rustc): exact paths are short and chosen by the
/// application, so a fast hash is enough.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, mut b: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut add = |w: u64| self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        while b.len() >= 8 {
            add(u64::from_le_bytes(b[..8].try_into().unwrap()));
            b = &b[8..];
        }
        if b.len() >= 4 {
            add(u32::from_le_bytes(b[..4].try_into().unwrap()) as u64);
            b = &b[4..];
        }
        for &x in b {
            add(x as u64);
        }
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// What a match found.
pub(crate) struct Hit<'r> {
    pub(crate) target: &'r Target,
    pub(crate) plan: &'r BodyPlan,
    /// The route's parameter names; their values are in the `Params`.
    pub(crate) names: &'r [Box<[u8]>],
}

#[derive(Default)]
pub struct Router {
    exact: Vec<ExactPath>,
    /// Indexes of `exact` by path, used past [`SCAN_MAX`] paths.
    exact_index: HashMap<Box<[u8]>, usize, BuildHasherDefault<FxHasher>>,
    /// In registration order; `tree` finds them in rank order.
    patterns: Vec<(Pattern, Entry)>,
    tree: Tree,
    /// Indexes of `patterns` in rank order, for `allow`.
    ranked: Vec<usize>,
    /// Longest first, then registration order.
    prefixes: Vec<(Box<[u8]>, Entry)>,
    /// Some route takes its body its own way.
    plans: bool,
}

impl Router {
    /// Adds a route; refuses a method that is not a token and a malformed
    /// pattern. `method` `None` matches every method.
    pub fn add(
        &mut self,
        method: Option<&[u8]>,
        path: &[u8],
        prefix: bool,
        target: Target,
    ) -> Result<(), RouteError> {
        if let Some(m) = method {
            pattern::check_method(m)?;
        }
        // a CONNECT target is an authority (host:port), matched exactly
        let authority = method == Some(b"CONNECT".as_slice()) && path.first() != Some(&b'/');
        let pat = if authority && !path.is_empty() {
            None
        } else {
            pattern::parse(path, prefix)?
        };
        let entry = Entry {
            method: method.map(Into::into),
            path: path.into(),
            target,
            plan: BodyPlan::default(),
        };
        match pat {
            Some(p) => {
                self.tree.insert(&p, self.patterns.len());
                self.ranked.push(self.patterns.len());
                self.patterns.push((p, entry));
                let ps = &self.patterns;
                // stable: registration order breaks ties
                self.ranked
                    .sort_by(|&a, &b| ps[a].0.rank.cmp(&ps[b].0.rank));
            }
            None if prefix => {
                self.prefixes.push((path.into(), entry));
                self.prefixes
                    .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
            }
            None => {
                let i = *self.exact_index.entry(path.into()).or_insert_with(|| {
                    self.exact.push(ExactPath {
                        head: head_word(path),
                        path: path.into(),
                        entries: Vec::new(),
                    });
                    self.exact.len() - 1
                });
                self.exact[i].entries.push(entry);
            }
        }
        Ok(())
    }

    /// The routes of exactly `path`.
    #[inline]
    fn exact(&self, path: &[u8]) -> Option<&[Entry]> {
        if self.exact.len() > SCAN_MAX {
            return self
                .exact_index
                .get(path)
                .map(|&i| &self.exact[i].entries[..]);
        }
        let head = head_word(path);
        self.exact
            .iter()
            .find(|x| {
                x.head == head
                    && x.path.len() == path.len()
                    && (path.len() <= 8 || same(&x.path[8..], &path[8..]))
            })
            .map(|x| &x.entries[..])
    }

    /// The route for `method` and `path`; a pattern's values go to
    /// `params`. `None`: see [`Router::allow`] for 404 or 405.
    #[inline]
    pub(crate) fn find<'r>(
        &'r self,
        method: &[u8],
        path: &[u8],
        params: &mut Params,
    ) -> Option<Hit<'r>> {
        const NONE: &[Box<[u8]>] = &[];
        if let Some(es) = self.exact(path) {
            if let Some(e) = es.iter().find(|e| e.allows(method)) {
                return Some(Hit {
                    target: &e.target,
                    plan: &e.plan,
                    names: NONE,
                });
            }
        }
        if !self.patterns.is_empty() {
            let ok = |i: usize| self.patterns[i].1.allows(method);
            if let Some(i) = self.tree.find(path, params, &ok) {
                params.decode(path);
                let (p, e) = &self.patterns[i];
                return Some(Hit {
                    target: &e.target,
                    plan: &e.plan,
                    names: &p.names,
                });
            }
        }
        // the byte after the leading '/' first: most prefixes fail on it
        // without a memcmp call
        self.prefixes
            .iter()
            .find(|(p, e)| {
                (p.len() < 2 || path.get(1) == p.get(1)) && path.starts_with(p) && e.allows(method)
            })
            .map(|(_, e)| Hit {
                target: &e.target,
                plan: &e.plan,
                names: NONE,
            })
    }

    /// Sets how the routes registered with exactly this method and path
    /// take their bodies: a limit of their own, or streamed to the handler.
    /// Returns false when there is none.
    pub fn set_plan(&mut self, method: Option<&[u8]>, path: &[u8], plan: BodyPlan) -> bool {
        let entries = self
            .exact
            .iter_mut()
            .flat_map(|x| &mut x.entries)
            .chain(self.patterns.iter_mut().map(|(_, e)| e))
            .chain(self.prefixes.iter_mut().map(|(_, e)| e));
        let mut found = false;
        for e in entries {
            if e.method.as_deref() == method && &e.path[..] == path {
                e.plan = plan;
                found = true;
            }
        }
        self.plans |= found && (plan.stream || plan.max_body.is_some());
        found
    }

    /// How the route of a request takes its body (`params` is scratch).
    #[inline]
    pub(crate) fn plan(&self, method: &[u8], path: &[u8], params: &mut Params) -> BodyPlan {
        if !self.plans {
            return BodyPlan::default();
        }
        self.find(method, path, params)
            .map(|h| *h.plan)
            .unwrap_or_default()
    }

    /// After a miss: appends the methods of every route whose path matches
    /// `path` to `out` as an `Allow` header line (GET brings HEAD; each
    /// method once, in route order). False when no path matches: a 404.
    pub(crate) fn allow(&self, path: &[u8], out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let exact = self.exact(path).into_iter().flatten();
        let patterns = self
            .ranked
            .iter()
            .map(|&i| &self.patterns[i])
            .filter(|(p, _)| p.matches_path(path))
            .map(|(_, e)| e);
        let prefixes = self
            .prefixes
            .iter()
            .filter(|(p, _)| path.starts_with(p))
            .map(|(_, e)| e);
        let mut any = false;
        for e in exact.chain(patterns).chain(prefixes) {
            any = true;
            // an any-method route would have matched
            let Some(m) = &e.method else { continue };
            for m in [&m[..], &b"HEAD"[..]] {
                let listed = out[start..]
                    .get(b"Allow: ".len()..)
                    .unwrap_or_default()
                    .split(|&b| b == b',' || b == b' ')
                    .any(|x| x == m);
                if !listed {
                    if out.len() == start {
                        out.extend_from_slice(b"Allow: ");
                    } else {
                        out.extend_from_slice(b", ");
                    }
                    out.extend_from_slice(m);
                }
                if &m[..] != b"GET" {
                    break;
                }
            }
        }
        if out.len() > start {
            out.extend_from_slice(b"\r\n");
        }
        any
    }
}

/// What a route for any method stands for in the server's `Allow`
/// (RFC 9110's methods, PATCH, without CONNECT and TRACE, which such a
/// route does not take: CONNECT needs an authority route).
const ANY_METHOD: &[&[u8]] = &[b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE"];

impl Router {
    /// Appends the server's `Allow` header line, for `OPTIONS *` and a
    /// CONNECT no route takes: every method some route names (GET brings
    /// HEAD), those of [`ANY_METHOD`] when a route takes any method, and
    /// OPTIONS (answered for `*`); each once, in route order, without `except`.
    pub(crate) fn server_allow(&self, except: &[u8], out: &mut Vec<u8>) {
        let entries = self
            .exact
            .iter()
            .flat_map(|x| &x.entries)
            .chain(self.patterns.iter().map(|(_, e)| e))
            .chain(self.prefixes.iter().map(|(_, e)| e));
        let mut methods: Vec<&[u8]> = Vec::new();
        let mut any = false;
        for e in entries {
            match &e.method {
                None => any = true,
                Some(m) => {
                    methods.push(m);
                    if &m[..] == b"GET" {
                        methods.push(b"HEAD");
                    }
                }
            }
        }
        if any {
            methods.extend_from_slice(ANY_METHOD);
        }
        methods.push(b"OPTIONS");
        out.extend_from_slice(b"Allow: ");
        let mut listed: Vec<&[u8]> = Vec::new();
        for m in methods {
            if m == except || listed.contains(&m) {
                continue;
            }
            if !listed.is_empty() {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(m);
            listed.push(m);
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The worker's reusable room for routing: the captured parameters and the
/// 405's header lines.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) params: Params,
    pub(crate) head: Vec<u8>,
}

/// The answers when no route matches.
pub(crate) struct ErrorPages {
    pub(crate) not_found: StaticResponse,
    /// The 405's header lines and body; `Allow` is added per request.
    pub(crate) method_not_allowed: (Vec<u8>, Vec<u8>),
}

#[cfg(test)]
mod tests {
    use super::head_word;

    #[test]
    fn head_words_are_the_first_eight_bytes_zero_padded() {
        let p: Vec<u8> = (1..=12u8).collect();
        for n in 0..=12 {
            let mut w = [0u8; 8];
            let k = n.min(8);
            w[..k].copy_from_slice(&p[..k]);
            assert_eq!(head_word(&p[..n]), u64::from_le_bytes(w), "{n}");
        }
    }
}
