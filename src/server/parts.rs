//! A response as owned parts: what a deferred builder fills and the
//! worker renders.

use crate::proto::{self, Body, ExtBody};

/// A response as owned parts, until it is rendered.
pub(crate) struct Parts {
    pub(crate) status: u16,
    pub(crate) headers: Vec<u8>,
    pub(crate) body: Vec<u8>,
    pub(crate) ext: Option<ExtBody>,
}

impl Default for Parts {
    fn default() -> Self {
        Parts {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            ext: None,
        }
    }
}

impl Parts {
    /// A copy of `r`, whose body is copied.
    pub(crate) fn copy_of(r: &proto::Response<'_>) -> Self {
        let body = match &r.body {
            Body::Copy(b) => b.to_vec(),
            Body::Ext(e) => e.as_slice().to_vec(),
        };
        Parts {
            status: r.status,
            headers: r.headers.to_vec(),
            body,
            ext: None,
        }
    }

    pub(crate) fn has_body(&self) -> bool {
        !self.body.is_empty() || self.ext.as_ref().is_some_and(|e| !e.as_slice().is_empty())
    }

    /// Back to a bare `status`, keeping the buffers' capacity.
    pub(crate) fn reset(&mut self, status: u16) {
        self.status = status;
        self.headers.clear();
        self.body.clear();
        self.ext = None;
    }

    /// The response to render; a body from its own storage is moved out.
    pub(crate) fn response(&mut self) -> proto::Response<'_> {
        let body = match self.ext.take() {
            Some(e) => Body::Ext(e),
            None => Body::Copy(&self.body),
        };
        proto::Response {
            status: self.status,
            headers: &self.headers,
            body,
        }
    }
}
