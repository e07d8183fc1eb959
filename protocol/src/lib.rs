//! Pure codecs for the register-to-OFD protocols.
//!
//! No sockets, no clock, no database: every function takes bytes (and, where time matters, the
//! time as an argument) and returns bytes or a typed error. The `ofd` binary does the I/O.
//!
//! - [`ru`]: Russian registers (ККТ with a fiscal drive): session frame, container, ФФД TLV,
//!   FNS JSON, the operator acknowledgement.
//! - [`kz`]: Kazakh registers (ККМ, protocol 2.0.3): 18-byte header and protobuf messages.
//! - [`dialect`]: the one [`Dialect`] type and [`sniff`], which tells the two apart by the
//!   first bytes of a connection.

pub mod dialect;
pub mod kz;
pub mod ru;

pub use dialect::{sniff, Dialect, Sniff, UnknownDialect};
