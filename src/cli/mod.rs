//! Tools for people: `decode`, `register`, `migrate`, `backup` and `restore --check`.

pub mod backup;
pub mod decode;
pub mod migrate;
pub mod register;
