//! Routes: a method and an exact path or a path prefix, leading to a static
//! response or a handler.

use std::sync::Arc;

use super::response::Handler;
use crate::proto::StaticResponse;

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
}

/// Why no route answered.
pub enum Miss {
    NotFound,
    MethodNotAllowed,
}

#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// Adds a route. Exact routes win over prefix routes, longer prefixes
    /// over shorter ones, and earlier routes over later ones.
    pub fn add(&mut self, method: Option<&[u8]>, path: &[u8], prefix: bool, target: Target) {
        self.routes.push(Route {
            method: method.map(<[u8]>::to_vec),
            path: path.to_vec(),
            prefix,
            target,
        });
        // stable: registration order breaks ties
        self.routes
            .sort_by_key(|r| (r.prefix, std::cmp::Reverse(r.path.len())));
    }

    #[inline]
    pub fn find(&self, method: &[u8], path: &[u8]) -> Result<&Target, Miss> {
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
                None => return Ok(&r.target),
                Some(m) if m == method || (method == b"HEAD" && m == b"GET") => {
                    return Ok(&r.target)
                }
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
