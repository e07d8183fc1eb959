//! Pure codecs for the register-to-OFD protocols.
//!
//! No sockets, no clock, no database: every function takes bytes (and, where time matters, the
//! time as an argument) and returns bytes or a typed error. The `ofd` binary does the I/O.
//!
//! - [`ru`]: Russian registers (ККТ with a fiscal drive): session frame, container, ФФД TLV,
//!   FNS JSON, the operator acknowledgement.
//! - [`kz`]: Kazakh registers (ККМ, protocol 2.0.3): 18-byte header and protobuf messages.

pub mod kz;
pub mod ru;
