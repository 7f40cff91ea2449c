//! Routes: a method and an exact path or a path prefix, leading to a static
//! response, a handler or a batch; and the answers when none matches.

use std::sync::Arc;

use super::response::ResponseBuilder;
use crate::proto::{BodyPlan, Request, StaticResponse};

/// Application code behind a route. Runs on a worker thread.
pub trait Handler: Send + Sync {
    /// Fills `res` (or defers it). `Err` answers 500 unless already sent;
    /// there is nothing more to say about a failure than that.
    #[allow(clippy::result_unit_err)]
    fn call(&self, req: &Request<'_>, res: &mut ResponseBuilder) -> Result<(), ()>;
}

pub enum Target {
    Static(StaticResponse),
    Handler(Arc<dyn Handler>),
    /// A batch route: its requests go to the server's batch handler, tagged.
    Batch(u32),
}

struct Route {
    /// `None` matches every method.
    method: Option<Vec<u8>>,
    path: Vec<u8>,
    prefix: bool,
    target: Target,
    plan: BodyPlan,
}

/// Why no route answered.
pub enum Miss {
    NotFound,
    MethodNotAllowed,
}

#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    /// Some route takes its body its own way.
    plans: bool,
}

impl Router {
    /// Adds a route. Exact routes win over prefix routes, longer prefixes
    /// over shorter ones, and earlier routes over later ones.
    pub fn add(&mut self, method: Option<&[u8]>, path: &[u8], prefix: bool, target: Target) {
        self.add_with_plan(method, path, prefix, target, BodyPlan::default())
    }

    /// Adds a route whose requests' bodies are taken as `plan` says: a
    /// limit of their own, or streamed to the handler.
    pub fn add_with_plan(
        &mut self,
        method: Option<&[u8]>,
        path: &[u8],
        prefix: bool,
        target: Target,
        plan: BodyPlan,
    ) {
        self.plans |= plan.stream || plan.max_body.is_some();
        self.routes.push(Route {
            method: method.map(<[u8]>::to_vec),
            path: path.to_vec(),
            prefix,
            target,
            plan,
        });
        // stable: registration order breaks ties
        self.routes
            .sort_by_key(|r| (r.prefix, std::cmp::Reverse(r.path.len())));
    }

    /// Sets how the routes registered with exactly this method and path
    /// take their bodies. Returns false when there is none.
    pub fn set_plan(&mut self, method: Option<&[u8]>, path: &[u8], plan: BodyPlan) -> bool {
        let mut found = false;
        for r in &mut self.routes {
            if r.method.as_deref() == method && r.path == path {
                r.plan = plan;
                found = true;
            }
        }
        self.plans |= found && (plan.stream || plan.max_body.is_some());
        found
    }

    #[inline]
    pub fn find(&self, method: &[u8], path: &[u8]) -> Result<&Target, Miss> {
        self.route(method, path).map(|r| &r.target)
    }

    /// How the route of a request takes its body.
    #[inline]
    pub fn plan(&self, method: &[u8], path: &[u8]) -> BodyPlan {
        if !self.plans {
            return BodyPlan::default();
        }
        self.route(method, path).map(|r| r.plan).unwrap_or_default()
    }

    #[inline]
    fn route(&self, method: &[u8], path: &[u8]) -> Result<&Route, Miss> {
        let mut path_matched = false;
        for r in &self.routes {
            let hit = if r.prefix {
                path.starts_with(&r.path)
            } else {
                r.path == path
            };
            if !hit {
                continue;
            }
            match &r.method {
                None => return Ok(r),
                Some(m) if m == method || (method == b"HEAD" && m == b"GET") => return Ok(r),
                Some(_) => path_matched = true,
            }
        }
        Err(if path_matched {
            Miss::MethodNotAllowed
        } else {
            Miss::NotFound
        })
    }
}

/// The answers when no route matches.
pub(crate) struct ErrorPages {
    pub(crate) not_found: StaticResponse,
    pub(crate) method_not_allowed: StaticResponse,
}

impl ErrorPages {
    #[inline]
    pub(crate) fn of(&self, miss: Miss) -> &StaticResponse {
        match miss {
            Miss::NotFound => &self.not_found,
            Miss::MethodNotAllowed => &self.method_not_allowed,
        }
    }
}
