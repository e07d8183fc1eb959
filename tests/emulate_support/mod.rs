//! Test-side helpers for running `ofd emulate` in-process: its arguments parsed exactly as the
//! command line would be, and an `ofd serve` on free ports for it to load.
#![allow(dead_code)] // each test file uses a different subset

use clap::Parser;
use ofd::emulate::EmulateArgs;
use ofd::ingest::config::ServeOptions;
use ofd::ingest::Server;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: EmulateArgs,
}

/// `ofd emulate WORDS…` as parsed by clap (the program name is added here).
pub fn emulate_args(words: &[&str]) -> EmulateArgs {
    Cli::parse_from(std::iter::once("emulate").chain(words.iter().copied())).args
}

/// Server options for an emulator run: ports chosen by the OS, `database`, no per-source rate
/// limit (every emulated register comes from 127.0.0.1).
pub fn serve_options(database: &str) -> ServeOptions {
    let mut options = ServeOptions::default();
    options.store.database.url = Some(database.to_owned());
    options.ingest.listen = Some("127.0.0.1:0".parse().expect("addr"));
    options.metrics.listen = Some("127.0.0.1:0".parse().expect("addr"));
    options.ingest.source_rate = Some(0);
    options
}

/// An in-process `ofd serve` with [`serve_options`].
pub async fn server(database: &str) -> Server {
    Server::start(serve_options(database).resolve().expect("valid config"))
        .await
        .expect("server starts")
}
