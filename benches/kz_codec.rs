//! KZ codec benchmarks (filled in with the KZ codec).
fn main() {}
