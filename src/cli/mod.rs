//! Tools for people: `decode`, `register`, `migrate`.

pub mod decode;
pub mod migrate;
pub mod register;
