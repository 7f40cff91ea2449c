//! A parsed request, and the ticket that answers it later.

use super::framing::ConnHeader;
use super::peer::Peer;
use crate::parse::Header;

/// A parsed request, borrowed from the connection's read buffer for the
/// duration of one [`super::Service::handle`] call.
pub struct Request<'a> {
    pub method: &'a [u8],
    /// The request target as sent: `/path?query`, or `http://host/path?query`
    /// (absolute-form), `*` (OPTIONS), `host:port` (CONNECT).
    pub target: &'a [u8],
    /// The path routed by: an absolute-form target's part after the
    /// authority (`/` when empty; the authority replaces `Host`'s value in
    /// `headers`), the whole target in asterisk- and authority-form.
    pub path: &'a [u8],
    /// The part after `?`, if any.
    pub query: Option<&'a [u8]>,
    pub minor_version: u8,
    pub headers: &'a [Header<'a>],
    pub body: &'a [u8],
    /// The body was not read before this call: it comes in pieces through
    /// [`super::Service::body`] once the handler asks for it
    /// ([`super::Responder::read_body`] or [`super::Conn::read_body`]).
    pub body_follows: bool,
    /// Position of this request on its connection, from 0.
    pub seq: u64,
    /// The connection's peer, if its driver said (`Conn::set_peer`).
    pub peer: Option<&'a Peer>,
    /// The head and the body as one slice of the read buffer (a chunked
    /// body is decoded in place right behind the head). Private, so that
    /// every field above lies inside it (but the `/` of an absolute-form
    /// target without a path).
    pub(crate) region: &'a [u8],
}

impl Request<'_> {
    /// First header with this name, compared case-insensitively.
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
            .map(|h| h.value())
    }
}

/// Identifies a deferred response on its connection, and how to render it.
#[derive(Clone, Copy)]
pub struct Ticket {
    pub seq: u64,
    pub(crate) head_only: bool,
    pub(crate) conn: ConnHeader,
    /// The request's HTTP/1.x minor version (chunked needs 1.1).
    pub(crate) minor: u8,
}
