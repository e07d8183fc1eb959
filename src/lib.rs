//! The `ofd` server: process roles (ingest, forward, tax-sink, account, all) and tools (emulate,
//! decode, register, migrate) over the pure codecs of `ofd-protocol`.
//!
//! Dependencies point one way: roles (`ingest`, `forward`, `sink`, `account`; the tools `cli` and
//! `emulate`) → `store` / `crypto` → `ofd_protocol`. Roles do not import each other; what they
//! share goes through `store`. `all` composes the roles into one process and is the only module
//! that names several. Below them all sit leaves that import nothing of the crate but each other:
//! [`clock`] (the one way to read the wall clock), [`error_chain`] (an error with its causes),
//! [`secret`], [`signal`], [`tax_batch`], [`telemetry`], [`tls`] (TLS for every listener, its
//! reload on SIGHUP), and [`config_file`] (how every role reads the one TOML file, env and
//! flags, one declaration per option).

pub mod account;
pub mod all;
pub mod background_runtime;
pub mod cli;
pub mod clock;
pub mod config_file;
pub mod crypto;
pub mod emulate;
pub mod error_chain;
pub mod forward;
pub mod health_endpoint;
pub mod ingest;
pub mod log_limit;
pub mod project;
pub mod secret;
pub mod signal;
pub mod sink;
pub mod store;
pub mod tax_batch;
pub mod telemetry;
pub mod tls;
pub mod url_redact;
