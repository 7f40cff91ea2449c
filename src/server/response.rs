//! The handler interface: a response builder, filled inline on the worker or,
//! after `defer`, on any thread and posted back to the worker.

use std::sync::Arc;

use super::worker::{Completion, Mailbox};
use crate::proto::{self, valid_header_field, Body, ExtBody, Request, Ticket};

/// Application code behind a route. Runs on a worker thread.
pub trait Handler: Send + Sync {
    /// Fills `res` (or defers it). `Err` answers 500 unless already sent;
    /// there is nothing more to say about a failure than that.
    #[allow(clippy::result_unit_err)]
    fn call(&self, req: &Request<'_>, res: &mut ResponseBuilder) -> Result<(), ()>;
}

/// Where a deferred response goes back to.
#[derive(Clone)]
pub(crate) struct Origin {
    pub(crate) mailbox: Arc<Mailbox>,
    pub(crate) token: usize,
    pub(crate) gen: u32,
    pub(crate) ticket: Ticket,
}

pub(crate) enum State {
    /// Being built during the handler call.
    Open,
    /// Built; goes out when the handler returns.
    Sent,
    /// Handed to a deferred builder.
    Deferred,
}

/// A response under construction.
pub struct ResponseBuilder {
    pub(crate) status: u16,
    pub(crate) headers: Vec<u8>,
    pub(crate) body: Vec<u8>,
    pub(crate) ext: Option<ExtBody>,
    pub(crate) state: State,
    /// Set on the inline builder while a handler runs, and on deferred ones.
    pub(crate) origin: Option<Origin>,
    /// True for a builder returned by `defer` (heap-owned, any thread).
    pub(crate) detached: bool,
}

impl Default for ResponseBuilder {
    fn default() -> Self {
        ResponseBuilder {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            ext: None,
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
    /// A header name or value holds bytes that would break the message.
    InvalidHeader,
    /// The status is outside 200..=999 (1xx are not final responses).
    InvalidStatus,
}

impl ResponseBuilder {
    pub(crate) fn reset(&mut self, origin: Origin) {
        self.status = 200;
        self.headers.clear();
        self.body.clear();
        self.ext = None;
        self.state = State::Open;
        self.origin = Some(origin);
    }

    fn open(&self) -> Result<(), BuildError> {
        match self.state {
            State::Open => Ok(()),
            _ => Err(BuildError::Closed),
        }
    }

    pub fn status(&mut self, status: u16) -> Result<(), BuildError> {
        self.open()?;
        if !(200..=999).contains(&status) {
            return Err(BuildError::InvalidStatus);
        }
        self.status = status;
        Ok(())
    }

    /// Adds a header field. `Content-Length`, `Date`, `Connection` and
    /// `Transfer-Encoding` are the engine's and are refused.
    pub fn header(&mut self, name: &[u8], value: &[u8]) -> Result<(), BuildError> {
        self.open()?;
        if !valid_header_field(name, value) {
            return Err(BuildError::InvalidHeader);
        }
        self.headers.extend_from_slice(name);
        self.headers.extend_from_slice(b": ");
        self.headers.extend_from_slice(value);
        self.headers.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Sets the body, copying it.
    pub fn body(&mut self, body: &[u8]) -> Result<(), BuildError> {
        self.open()?;
        self.ext = None;
        self.body.clear();
        self.body.extend_from_slice(body);
        Ok(())
    }

    /// Sets a body sent from its own storage, without a copy.
    pub fn body_ext(&mut self, body: ExtBody) -> Result<(), BuildError> {
        self.open()?;
        self.body.clear();
        self.ext = Some(body);
        Ok(())
    }

    /// Finishes the response. Inline, it goes out when the handler returns;
    /// a deferred builder is posted to its worker, which sends it in order.
    pub fn send(&mut self) -> Result<(), BuildError> {
        self.open()?;
        self.state = State::Sent;
        if self.detached {
            let origin = self.origin.take().ok_or(BuildError::Closed)?;
            let c = Completion {
                token: origin.token,
                gen: origin.gen,
                ticket: origin.ticket,
                status: self.status,
                headers: std::mem::take(&mut self.headers),
                body: std::mem::take(&mut self.body),
                ext: self.ext.take(),
            };
            origin.mailbox.post(c);
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
        d.status = self.status;
        std::mem::swap(&mut d.headers, &mut self.headers);
        self.headers.clear();
        Ok(d)
    }

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

impl Drop for ResponseBuilder {
    fn drop(&mut self) {
        // A deferred response dropped unsent still owes its slot an answer.
        if self.detached && matches!(self.state, State::Open) {
            self.status = 500;
            self.headers.clear();
            self.body.clear();
            self.ext = None;
            let _ = self.send();
        }
    }
}
