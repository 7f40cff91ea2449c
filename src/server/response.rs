//! The handler's response builder: filled inline on the worker or, after
//! `defer`, on any thread and posted back to the worker.

use std::fmt;
use std::sync::Arc;

use super::mailbox::{Completion, Mailbox, Work};
use super::parts::{FieldMemo, Parts};
use super::stream::{BodySink, EndHook, Stream, StreamEvents, StreamState, UpgradeHook};
use crate::proto::{self, body_allowed, valid_header_field, valid_status, ExtBody, Ticket};

/// Where a deferred response goes back to.
#[derive(Clone)]
pub(crate) struct Origin {
    pub(crate) mailbox: Arc<Mailbox>,
    pub(crate) token: usize,
    pub(crate) gen: u32,
    pub(crate) ticket: Ticket,
    /// Bytes a stream may have queued (the connection's unsent limit).
    pub(crate) budget: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Being built during the handler call.
    Open,
    /// Built; goes out when the handler returns.
    Sent,
    /// Handed to a deferred builder.
    Deferred,
    /// Streamed: the head goes out when the handler returns.
    Streamed,
    /// Switches protocols when the handler returns.
    Upgrade,
}

/// What the worker does once a handler returned.
pub(crate) enum Outcome {
    Send,
    Defer,
    /// Start a stream with this length, if announced.
    Stream(Option<usize>, Arc<StreamState>),
    /// Switch protocols with this status, and hand the connection over.
    Upgrade(u16, UpgradeHook),
}

/// A response under construction.
pub struct ResponseBuilder {
    parts: Parts,
    state: State,
    /// Where the response goes back to, while `live`. The inline builder
    /// keeps its worker's between calls, so a call costs no reference count.
    origin: Option<Origin>,
    /// True on the inline builder while a handler runs, and on deferred ones.
    live: bool,
    /// True for a builder returned by `defer` (heap-owned, any thread).
    detached: bool,
    /// What an inline stream starts with.
    stream: Option<(Option<usize>, Arc<StreamState>)>,
    /// What an inline protocol switch hands over to.
    upgrade: Option<(u16, UpgradeHook)>,
    /// Who reads the request body, asked for inline.
    body_sink: Option<BodySink>,
    /// `read_body` was called.
    body_taken: bool,
    /// Who hears how the response ended, asked for inline.
    end_hook: Option<EndHook>,
    /// The previous response's field lines, matched against `header` calls.
    fields: FieldMemo,
}

impl Default for ResponseBuilder {
    fn default() -> Self {
        ResponseBuilder {
            parts: Parts::default(),
            state: State::Open,
            origin: None,
            live: false,
            detached: false,
            stream: None,
            upgrade: None,
            body_sink: None,
            body_taken: false,
            end_hook: None,
            fields: FieldMemo::default(),
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
    /// A body for a status that never has one (204, 304), in either order:
    /// the status set after the body, or the body after the status.
    BodyNotAllowed(u16),
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
            BuildError::BodyNotAllowed(s) => {
                return write!(f, "a {s} response has no body: send it with an empty one")
            }
            BuildError::InvalidFile(e) => return write!(f, "invalid file body: {e}"),
        })
    }
}

impl std::error::Error for BuildError {}

impl ResponseBuilder {
    /// Readies the worker's inline builder for the next handler call,
    /// answering to `mailbox`.
    #[inline]
    pub(crate) fn begin(
        &mut self,
        mailbox: &Arc<Mailbox>,
        token: usize,
        gen: u32,
        ticket: Ticket,
        budget: usize,
    ) {
        // the previous response's field lines stay, to be matched
        self.parts.reset_keeping_headers(200);
        self.fields.begin();
        self.state = State::Open;
        match &mut self.origin {
            Some(o) if Arc::ptr_eq(&o.mailbox, mailbox) => {
                o.token = token;
                o.gen = gen;
                o.ticket = ticket;
                o.budget = budget;
            }
            o => {
                *o = Some(Origin {
                    mailbox: mailbox.clone(),
                    token,
                    gen,
                    ticket,
                    budget,
                })
            }
        }
        self.live = true;
        self.body_taken = false;
        // the last call's, if any, were taken when it returned
        debug_assert!(self.body_sink.is_none() && self.end_hook.is_none());
    }

    /// The end hook a handler set inline.
    pub(crate) fn take_end_hook(&mut self) -> Option<EndHook> {
        self.end_hook.take()
    }

    /// A builder for a response deferred elsewhere (a batch request).
    pub(crate) fn detached(origin: Origin) -> Box<Self> {
        let mut d = Box::<ResponseBuilder>::default();
        d.origin = Some(origin);
        d.live = true;
        d.detached = true;
        d
    }

    /// The body sink a handler set inline.
    pub(crate) fn take_body_sink(&mut self) -> Option<BodySink> {
        self.body_sink.take()
    }

    /// Ends a handler call that returned `ok`: a failed call that sent
    /// nothing answers 500.
    pub(crate) fn finish(&mut self, ok: bool) -> Outcome {
        self.live = false;
        match self.state {
            State::Deferred => Outcome::Defer,
            State::Streamed => match self.stream.take() {
                Some((len, shared)) => Outcome::Stream(len, shared),
                None => Outcome::Send,
            },
            State::Upgrade => match self.upgrade.take() {
                Some((status, hook)) => Outcome::Upgrade(status, hook),
                None => Outcome::Send,
            },
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
        self.fields = FieldMemo::default();
    }

    pub(crate) fn response(&mut self) -> proto::Response<'_> {
        self.fields.settle(&mut self.parts.headers);
        self.parts.response()
    }

    /// Status, header lines and body of a response whose body is copied
    /// (not sent from its own storage).
    #[inline]
    pub(crate) fn copied(&mut self) -> Option<(u16, &[u8], &[u8])> {
        self.fields.settle(&mut self.parts.headers);
        let p = &self.parts;
        p.ext
            .is_none()
            .then_some((p.status, &p.headers[..], &p.body[..]))
    }

    /// Whether this builder came from [`ResponseBuilder::defer`].
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    /// Where the response goes back to, while the builder may answer.
    fn origin(&self) -> Option<&Origin> {
        match self.live {
            true => self.origin.as_ref(),
            false => None,
        }
    }

    #[inline]
    fn open(&self) -> Result<(), BuildError> {
        match self.state {
            State::Open => Ok(()),
            _ => Err(BuildError::Closed),
        }
    }

    #[inline]
    fn body_allowed(&self, non_empty: bool) -> Result<(), BuildError> {
        match non_empty && !body_allowed(self.parts.status) {
            true => Err(BuildError::BodyNotAllowed(self.parts.status)),
            false => Ok(()),
        }
    }

    pub fn status(&mut self, status: u16) -> Result<(), BuildError> {
        self.open()?;
        if !valid_status(status) {
            return Err(BuildError::InvalidStatus);
        }
        if !body_allowed(status) && self.parts.has_body() {
            return Err(BuildError::BodyNotAllowed(status));
        }
        self.parts.status = status;
        Ok(())
    }

    /// Adds a header field. `Content-Length`, `Date`, `Connection` and
    /// `Transfer-Encoding` are the engine's and are refused.
    pub fn header(&mut self, name: &[u8], value: &[u8]) -> Result<(), BuildError> {
        self.open()?;
        // the same bytes as the previous response's field here: checked then
        if self.fields.matches(&self.parts.headers, name, value) {
            return Ok(());
        }
        self.fields.settle(&mut self.parts.headers);
        if !valid_header_field(name, value) {
            return Err(BuildError::InvalidHeader);
        }
        let before = self.parts.headers.len();
        proto::push_field(&mut self.parts.headers, name, value);
        self.fields
            .record(before, name.len(), value.len(), self.parts.headers.len());
        Ok(())
    }

    /// As [`ResponseBuilder::header`] for a field that repeats the last
    /// response's at this place, which is all it does; false for any other
    /// (`header` then takes it).
    #[inline(always)]
    pub(crate) fn header_again(&mut self, name: &[u8], value: &[u8]) -> bool {
        self.state == State::Open && self.fields.matches(&self.parts.headers, name, value)
    }

    /// Adds header fields given as complete `Name: value\r\n` lines, under
    /// the rules of [`ResponseBuilder::header`].
    pub fn header_lines(&mut self, lines: &[u8]) -> Result<(), BuildError> {
        self.open()?;
        self.fields.settle(&mut self.parts.headers);
        if !lines.is_empty() && !proto::flat::valid_header_lines(lines) {
            return Err(BuildError::InvalidHeader);
        }
        self.parts.headers.extend_from_slice(lines);
        Ok(())
    }

    /// Sets the body, copying it.
    pub fn body(&mut self, body: &[u8]) -> Result<(), BuildError> {
        self.open()?;
        self.body_allowed(!body.is_empty())?;
        self.parts.ext = None;
        self.parts.body.clear();
        self.parts.body.extend_from_slice(body);
        Ok(())
    }

    /// Sets a body of `len` zero bytes and returns it, to be written in
    /// place: no copy of a body built elsewhere.
    #[inline]
    pub fn body_mut(&mut self, len: usize) -> Result<&mut [u8], BuildError> {
        self.open()?;
        self.body_allowed(len > 0)?;
        self.parts.ext = None;
        let body = &mut self.parts.body;
        body.clear();
        if len <= 32 {
            // reserved once: the buffer is kept between responses
            body.reserve(32);
            // SAFETY: 32 bytes of capacity; zeroed before `set_len`.
            unsafe {
                body.as_mut_ptr().write_bytes(0, 32);
                body.set_len(len);
            }
        } else {
            body.resize(len, 0);
        }
        Ok(body)
    }

    /// Sets a body sent from its own storage, without a copy.
    pub fn body_ext(&mut self, body: ExtBody) -> Result<(), BuildError> {
        self.open()?;
        self.body_allowed(!body.as_slice().is_empty())?;
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
        self.fields.settle(&mut self.parts.headers);
        self.state = State::Sent;
        if self.detached {
            let origin = self.origin.take().ok_or(BuildError::Closed)?;
            origin.mailbox.post(Completion {
                token: origin.token,
                gen: origin.gen,
                ticket: origin.ticket,
                work: Work::Respond(std::mem::take(&mut self.parts)),
            });
        }
        Ok(())
    }

    /// Sends the status and headers now and returns the handle that writes
    /// the body in pieces, from any thread. `len` is the body's length when
    /// known: it is sent as `Content-Length`; without it the body is chunked
    /// (HTTP/1.1) or ends with the connection (HTTP/1.0). `events` hears
    /// when to write again and when the client left.
    pub fn stream(
        &mut self,
        len: Option<usize>,
        events: Option<StreamEvents>,
    ) -> Result<Stream, BuildError> {
        self.open()?;
        self.fields.settle(&mut self.parts.headers);
        let origin = if self.detached {
            self.origin.take()
        } else {
            self.origin().cloned()
        }
        .ok_or(BuildError::Closed)?;
        let budget = origin.budget;
        let s = Stream::new(origin, budget, self.parts.status, len, events);
        self.state = if self.detached {
            State::Sent
        } else {
            State::Streamed
        };
        if self.detached {
            let o = &s.shared().origin();
            o.mailbox.post(Completion {
                token: o.token,
                gen: o.gen,
                ticket: o.ticket,
                work: Work::Stream(std::mem::take(&mut self.parts), len, s.shared().clone()),
            });
        } else {
            self.stream = Some((len, s.shared().clone()));
        }
        Ok(s)
    }

    /// Accepts a protocol switch: `status` is 101 (for `Upgrade`) or a 2xx
    /// (for `CONNECT`), sent with the headers set so far and no body. Once
    /// it and every earlier response on the connection are written, the
    /// engine lets go of the connection and `hook` takes it, with the bytes
    /// the client sent past the request. The engine never touches it again.
    pub fn upgrade(&mut self, status: u16, hook: UpgradeHook) -> Result<(), BuildError> {
        self.open()?;
        self.fields.settle(&mut self.parts.headers);
        if status != 101 && !(200..300).contains(&status) {
            return Err(BuildError::InvalidStatus);
        }
        self.parts.status = status;
        self.parts.body.clear();
        self.parts.ext = None;
        if self.detached {
            let origin = self.origin.take().ok_or(BuildError::Closed)?;
            self.state = State::Sent;
            origin.mailbox.post(Completion {
                token: origin.token,
                gen: origin.gen,
                ticket: origin.ticket,
                work: Work::Upgrade(std::mem::take(&mut self.parts), hook),
            });
        } else {
            self.state = State::Upgrade;
            self.upgrade = Some((status, hook));
        }
        Ok(())
    }

    /// Reads the request's body in pieces through `sink`, for a route that
    /// streams its bodies: until this call the body is not read (and a
    /// client expecting `100 Continue` does not get it). Call it before the
    /// response is sent, streamed or switched; once per request.
    pub fn read_body(&mut self, sink: BodySink) -> Result<(), BuildError> {
        if self.body_taken || self.origin().is_none() {
            return Err(BuildError::Closed);
        }
        self.body_taken = true;
        if self.detached {
            self.post(Work::ReadBody(sink));
        } else {
            self.body_sink = Some(sink);
        }
        Ok(())
    }

    /// Has `hook` told, once, how the response ends: sent, answered 503 by
    /// the request timeout, or its client gone. For work done elsewhere on
    /// the response's behalf, to stop when nobody waits for it. Completing
    /// the response after a timeout or a departure is a harmless no-op.
    pub fn on_end(&mut self, hook: EndHook) -> Result<(), BuildError> {
        if self.origin().is_none() || self.end_hook.is_some() {
            return Err(BuildError::Closed);
        }
        if self.detached {
            self.post(Work::Watch(hook));
        } else {
            self.end_hook = Some(hook);
        }
        Ok(())
    }

    /// Goes on reading the body after the sink returned
    /// [`crate::proto::Flow::Pause`]. On a deferred builder, before it is
    /// sent; inline, it applies when the handler returns.
    pub fn resume_body(&mut self) -> Result<(), BuildError> {
        if !self.body_taken || self.origin().is_none() {
            return Err(BuildError::Closed);
        }
        if self.detached {
            self.post(Work::ResumeBody);
        }
        Ok(())
    }

    fn post(&self, work: Work) {
        if let Some(o) = &self.origin {
            o.mailbox.post(Completion {
                token: o.token,
                gen: o.gen,
                ticket: o.ticket,
                work,
            });
        }
    }

    /// Detaches the response from the handler call: the returned builder may
    /// be filled and sent later from any thread. Responses on the same
    /// connection still go out in request order.
    pub fn defer(&mut self) -> Result<Box<ResponseBuilder>, BuildError> {
        self.open()?;
        if self.detached {
            return Err(BuildError::Closed);
        }
        let origin = self.origin().cloned().ok_or(BuildError::Closed)?;
        self.fields.settle(&mut self.parts.headers);
        self.state = State::Deferred;
        let mut d = Box::<ResponseBuilder>::default();
        d.origin = Some(origin);
        d.live = true;
        d.detached = true;
        d.body_taken = self.body_taken;
        d.parts.status = self.parts.status;
        std::mem::swap(&mut d.parts.headers, &mut self.parts.headers);
        self.fields = FieldMemo::default(); // the lines went with `d`
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
