//! Tools for people: `decode`, `register`, `migrate`.

pub mod database;
pub mod decode;
pub mod migrate;
pub mod register;
