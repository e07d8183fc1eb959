//! KZ dialect: ККМ → ОФД protocol 2.0.3 (18-byte header + proto2 protobuf body).
//!
//! Design notes:
//! - **Messages are written from the spec's tables** as prost derive structs, so no `protoc` is
//!   needed to build. Nested proto messages are flattened into prefixed Rust names; the wire
//!   format only knows field numbers.
//! - **proto2 `required`** is not enforced by prost, so required fields are `Option`s checked by
//!   [`Validate`] after decoding ([`decode_request`], [`decode_response`]): a missing field is a
//!   typed error naming it, never a silent zero.
//! - **Open enums**: enum-typed fields are `i32`, so unknown values survive a round trip; the
//!   Rust enums ([`CommandTypeEnum`], …) convert with `TryFrom<i32>`.
//! - **Unknown fields** are skipped (prost); **repeated scalars** decode packed or unpacked and are
//!   encoded unpacked, as proto2 does by default.
//! - **Versions**: 2.0.3 is primary, 2.0.2 is accepted, everything else is refused
//!   ([`ProtocolVersion::from_header`]).
//! - Pure: no I/O, no clock. The server reads 18 bytes, [`Header::decode`]s them, checks the
//!   size cap, reads the body, then decodes it.

mod common;
mod envelope;
mod frame;
mod header;
mod json;
mod nomenclature;
mod report;
mod required;
mod service_block;
mod ticket;

#[cfg(test)]
mod arb;
#[cfg(test)]
mod tests;

pub use common::*;
pub use envelope::*;
pub use frame::*;
pub use header::*;
pub use json::document_json;
pub use nomenclature::*;
pub use report::*;
pub use required::{MissingField, Validate};
pub use service_block::*;
pub use ticket::*;
