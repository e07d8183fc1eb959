//! `sqlx::migrate!` embeds the files under `migrations/` at compile time, but cargo does not know
//! they are inputs: without this, adding a migration would leave a stale binary.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
