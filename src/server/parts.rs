//! A response as owned parts: what a deferred builder fills and the
//! worker renders.

use crate::proto::bytes::same;
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
        self.headers.clear();
        self.reset_keeping_headers(status);
    }

    /// As `reset`, but the header lines stay (for a [`FieldMemo`]).
    #[inline]
    pub(crate) fn reset_keeping_headers(&mut self, status: u16) {
        self.status = status;
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

/// How many of a response's first fields a [`FieldMemo`] remembers.
const MEMO_FIELDS: usize = 8;

/// The field lines of the previous response, kept in the builder's
/// `headers` while the next handler runs: a `header` call with the same
/// name and value as the line at the same place, byte for byte, keeps that
/// line, which passed the same checks then, rather than checking and
/// copying it again. The first call that differs drops the lines from there
/// on. A handler that sends the same fields each time then costs a compare
/// per field.
///
/// `lens` describes the first `count` lines of `headers` (`bytes` bytes):
/// only lines added by `header` one after another from the start are
/// recorded, so a line's name ends where its length says, never at a `:`
/// inside a value.
#[derive(Default)]
pub(crate) struct FieldMemo {
    /// Name and value lengths of the recorded lines.
    lens: [(u16, u16); MEMO_FIELDS],
    count: usize,
    bytes: usize,
    /// `headers` past `kept` still holds the previous response's lines.
    matching: bool,
    /// Lines of the response being built matched so far, and their bytes.
    at: usize,
    kept: usize,
}

impl FieldMemo {
    /// A response starts, with the previous one's lines in `headers`.
    #[inline]
    pub(crate) fn begin(&mut self) {
        self.matching = true;
        self.at = 0;
        self.kept = 0;
    }

    /// Whether `name: value` is the previous response's next line, which
    /// then stays as the response's own.
    #[inline(always)]
    pub(crate) fn matches(&mut self, headers: &[u8], name: &[u8], value: &[u8]) -> bool {
        if !self.matching || self.at >= self.count {
            return false;
        }
        let (n, v) = self.lens[self.at];
        if usize::from(n) != name.len() || usize::from(v) != value.len() {
            return false;
        }
        let len = name.len() + value.len() + 4;
        let Some(line) = headers.get(self.kept..self.kept + len) else {
            return false;
        };
        if !same(&line[..name.len()], name) || !same(&line[name.len() + 2..len - 2], value) {
            return false;
        }
        self.at += 1;
        self.kept += len;
        true
    }

    /// Ends the matching: the previous response's lines that were not
    /// matched leave `headers`. Before anything else changes or reads it.
    #[inline]
    pub(crate) fn settle(&mut self, headers: &mut Vec<u8>) {
        if self.matching {
            headers.truncate(self.kept);
            self.count = self.at;
            self.bytes = self.kept;
            self.matching = false;
        }
    }

    /// `header` added a line of `name_len` and `value_len` bytes at
    /// `before`; `after` is the new length of `headers`.
    #[inline]
    pub(crate) fn record(
        &mut self,
        before: usize,
        name_len: usize,
        value_len: usize,
        after: usize,
    ) {
        if self.bytes == before && self.count < MEMO_FIELDS {
            if let (Ok(n), Ok(v)) = (u16::try_from(name_len), u16::try_from(value_len)) {
                self.lens[self.count] = (n, v);
                self.count += 1;
                self.bytes = after;
            }
        }
    }
}
