//! The `ofd` server: process roles (ingest, forward, tax-sink, account, all) and tools (emulate,
//! decode, register, migrate) over the pure codecs of `ofd-protocol`.
//!
//! Dependencies point one way: roles → `store` / `crypto` / `config_file` → `ofd_protocol`. Roles
//! do not import each other; what they share goes through `store`, and how they are configured
//! through `config_file`.

pub mod account;
pub mod all;
pub mod cli;
pub mod config_file;
pub mod crypto;
pub mod emulate;
pub mod forward;
pub mod ingest;
pub mod secret;
pub mod signal;
pub mod sink;
pub mod store;
pub mod tax_batch;
pub mod telemetry;
