//! RU codec benchmarks (filled in with the RU codec).
fn main() {}
