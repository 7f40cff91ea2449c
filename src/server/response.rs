//! The handler's response builder: filled inline on the worker or, after
//! `defer`, on any thread and posted back to the worker.

use std::fmt;
use std::sync::Arc;

use super::mailbox::{Completion, Mailbox};
use super::parts::Parts;
use crate::proto::{self, valid_header_field, valid_status, ExtBody, Ticket};

/// Where a deferred response goes back to.
#[derive(Clone)]
pub(crate) struct Origin {
    pub(crate) mailbox: Arc<Mailbox>,
    pub(crate) token: usize,
    pub(crate) gen: u32,
    pub(crate) ticket: Ticket,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Being built during the handler call.
    Open,
    /// Built; goes out when the handler returns.
    Sent,
    /// Handed to a deferred builder.
    Deferred,
}

/// What the worker does once a handler returned.
pub(crate) enum Outcome {
    Send,
    Defer,
}

/// A response under construction.
pub struct ResponseBuilder {
    parts: Parts,
    state: State,
    /// Set on the inline builder while a handler runs, and on deferred ones.
    origin: Option<Origin>,
    /// True for a builder returned by `defer` (heap-owned, any thread).
    detached: bool,
}

impl Default for ResponseBuilder {
    fn default() -> Self {
        ResponseBuilder {
            parts: Parts::default(),
            state: State::Open,
            origin: None,
            detached: false,
        }
    }
}

/// Why a builder call was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The response was already sent or deferred.
    Closed,
    /// A header name or value holds bytes that would break the message, or
    /// names a field the engine writes itself.
    InvalidHeader,
    /// The status is outside 200..=999 (1xx are not final responses).
    InvalidStatus,
    /// A file body that is not a regular file or not that long.
    InvalidFile(super::FileError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BuildError::Closed => "the response was already sent or deferred",
            BuildError::InvalidHeader => {
                "invalid header: the name must be a token, the value must hold no \
                 control bytes, and Content-Length, Date, Connection and \
                 Transfer-Encoding are the engine's"
            }
            BuildError::InvalidStatus => "the status must be within 200..=999",
            BuildError::InvalidFile(e) => return write!(f, "invalid file body: {e}"),
        })
    }
}

impl std::error::Error for BuildError {}

impl ResponseBuilder {
    /// Readies the worker's inline builder for the next handler call.
    pub(crate) fn begin(&mut self, origin: Origin) {
        self.parts.reset(200);
        self.state = State::Open;
        self.origin = Some(origin);
    }

    /// Ends a handler call that returned `ok`: a failed call that sent
    /// nothing answers 500.
    pub(crate) fn finish(&mut self, ok: bool) -> Outcome {
        self.origin = None;
        match self.state {
            State::Deferred => Outcome::Defer,
            State::Open if !ok => {
                self.fail();
                Outcome::Send
            }
            _ => Outcome::Send,
        }
    }

    /// Replaces whatever was built with a bare 500.
    pub(crate) fn fail(&mut self) {
        self.parts.reset(500);
    }

    pub(crate) fn response(&mut self) -> proto::Response<'_> {
        self.parts.response()
    }

    /// Whether this builder came from [`ResponseBuilder::defer`].
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    fn open(&self) -> Result<(), BuildError> {
        match self.state {
            State::Open => Ok(()),
            _ => Err(BuildError::Closed),
        }
    }

    pub fn status(&mut self, status: u16) -> Result<(), BuildError> {
        self.open()?;
        if !valid_status(status) {
            return Err(BuildError::InvalidStatus);
        }
        self.parts.status = status;
        Ok(())
    }

    /// Adds a header field. `Content-Length`, `Date`, `Connection` and
    /// `Transfer-Encoding` are the engine's and are refused.
    pub fn header(&mut self, name: &[u8], value: &[u8]) -> Result<(), BuildError> {
        self.open()?;
        if !valid_header_field(name, value) {
            return Err(BuildError::InvalidHeader);
        }
        let h = &mut self.parts.headers;
        h.extend_from_slice(name);
        h.extend_from_slice(b": ");
        h.extend_from_slice(value);
        h.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Sets the body, copying it.
    pub fn body(&mut self, body: &[u8]) -> Result<(), BuildError> {
        self.open()?;
        self.parts.ext = None;
        self.parts.body.clear();
        self.parts.body.extend_from_slice(body);
        Ok(())
    }

    /// Sets a body sent from its own storage, without a copy.
    pub fn body_ext(&mut self, body: ExtBody) -> Result<(), BuildError> {
        self.open()?;
        self.parts.body.clear();
        self.parts.ext = Some(body);
        Ok(())
    }

    /// Sets a body of `len` bytes of `file` from `offset`, sent with
    /// `sendfile(2)`. The file is closed once sent, when the connection
    /// closes, or at once when refused.
    pub fn body_file(
        &mut self,
        file: std::fs::File,
        offset: u64,
        len: u64,
    ) -> Result<(), BuildError> {
        self.open()?;
        let body = super::file_body(file, offset, len).map_err(BuildError::InvalidFile)?;
        self.parts.body.clear();
        self.parts.ext = Some(ExtBody::File(body));
        Ok(())
    }

    /// Finishes the response. Inline, it goes out when the handler returns;
    /// a deferred builder is posted to its worker, which sends it in order.
    pub fn send(&mut self) -> Result<(), BuildError> {
        self.open()?;
        self.state = State::Sent;
        if self.detached {
            let origin = self.origin.take().ok_or(BuildError::Closed)?;
            origin.mailbox.post(Completion {
                token: origin.token,
                gen: origin.gen,
                ticket: origin.ticket,
                parts: std::mem::take(&mut self.parts),
            });
        }
        Ok(())
    }

    /// Detaches the response from the handler call: the returned builder may
    /// be filled and sent later from any thread. Responses on the same
    /// connection still go out in request order.
    pub fn defer(&mut self) -> Result<Box<ResponseBuilder>, BuildError> {
        self.open()?;
        if self.detached {
            return Err(BuildError::Closed);
        }
        let origin = self.origin.clone().ok_or(BuildError::Closed)?;
        self.state = State::Deferred;
        let mut d = Box::<ResponseBuilder>::default();
        d.origin = Some(origin);
        d.detached = true;
        d.parts.status = self.parts.status;
        std::mem::swap(&mut d.parts.headers, &mut self.parts.headers);
        Ok(d)
    }
}

impl Drop for ResponseBuilder {
    fn drop(&mut self) {
        // A deferred response dropped unsent still owes its slot an answer.
        if self.detached && self.state == State::Open {
            self.fail();
            let _ = self.send();
        }
    }
}
