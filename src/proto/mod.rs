//! The sans-I/O HTTP/1.1 connection core: bytes in, request events out;
//! responses in, ordered output segments out. No sockets, threads or clocks.

pub(crate) mod bytes;
mod conn;
pub mod date;
pub mod flat;
mod framing;
mod head_memo;
mod output;
mod peer;
mod pool;
mod proxy;
mod reader;
mod render;
mod request;
mod responder;
mod slots;
mod stream;
mod tally;
mod target;

pub use conn::Conn;
pub(crate) use head_memo::HeadMemo;
pub use output::{ExtBody, ExtBytes, FileBody, FileChunk};
pub use peer::{Peer, PeerAddr};
pub use pool::BufPool;
pub(crate) use pool::MAX_BLOCK;
pub use proxy::{parse_proxy, ProxyHeader, PROXY_HEADER_MAX};
pub(crate) use render::push_field;
pub use render::{
    body_allowed, header_field_problem, reason, valid_header_field, valid_status, Body,
    FieldProblem, Response, StaticResponse,
};
pub use request::{Request, Ticket};
pub use responder::{BodyPiece, BodyPlan, Flow, Responder, Service};
pub use stream::StreamError;
pub use tally::Exchange;

use date::DATE_LEN;

/// What a connection borrows from its driver for one call: the settings,
/// the buffer pool, and the current date (the driver owns the clock).
pub struct Ctx<'a> {
    pub cfg: &'a ProtoConfig,
    pub pool: &'a mut BufPool,
    pub date: &'a [u8; DATE_LEN],
}

/// Per-connection limits. Each one bounds memory or work a client can cause.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request head (request line and fields), in bytes. Over it: 431.
    pub max_head: usize,
    /// Longest request line, in bytes. Over it: 414.
    pub max_request_line: usize,
    /// Most header fields in one request. Over it: 431.
    pub max_headers: usize,
    /// Largest request body, in bytes. Over it: 413 (before reading it when
    /// Content-Length says so).
    pub max_body: usize,
    /// Most requests parsed and not yet fully answered on one connection.
    /// At the limit the connection stops reading until responses drain.
    pub max_pipelined: usize,
    /// Most response bytes queued and unsent on one connection. Over it the
    /// connection stops reading until the client reads. File bodies are not
    /// counted: they stay on disk until sent.
    pub max_unsent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head: 8 * 1024,
            max_request_line: 8 * 1024,
            max_headers: 100,
            max_body: 1024 * 1024,
            max_pipelined: 128,
            max_unsent: 1024 * 1024,
        }
    }
}

/// Settings shared by every connection of a server.
#[derive(Clone, Debug, Default)]
pub struct ProtoConfig {
    pub limits: Limits,
    /// Value of the `Server` header, if any.
    pub server_name: Option<Vec<u8>>,
}
