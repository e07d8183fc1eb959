//! `ofd emulate`: simulated registers of both dialects against any OFD address, and the tool
//! every performance figure of this project is measured with.
//!
//! Design notes:
//! - Registers are pure models (`model.rs`: next frame, judge the reply); the load loop
//!   (`load.rs`) owns sockets, retries, back-off and timing; link faults live in `link.rs`.
//!   The codecs come from `ofd-protocol` — the emulator builds frames with the same code the
//!   server parses them with, and checks replies with the same decoders.
//! - Verification, not just load: every reply is decoded and checked (RU: ack ФН/ФД match and
//!   code 0; KZ: result 0, token rotated, ticket number present). A document is resent until its
//!   reply settles it, exactly like a register whose ФН keeps it "unsent".
//! - The run fails (non-zero exit) when any document was not acknowledged and verified, so the
//!   tool doubles as an end-to-end check in scripts and tests. With `--soft-secret` an ack must
//!   also carry a ФПО that verifies and be no older than its document; with `--metrics-url` the
//!   server's conflict, quarantine and refusal counters must not grow during the run. The
//!   summary's last line (and `failures` in `--json`) says which of these failed.
//! - A seed names a fleet: the ФН numbers (and KZ system ids when provisioning) derive from it,
//!   so runs with different seeds do not share drives, and repeating a seed repeats the fleet
//!   on purpose; the summary prints both.

mod idle;
mod kz;
mod link;
mod load;
mod model;
mod provision;
mod provision_api;
mod ru;
mod server_counters;
mod stats;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub use link::LinkArgs;
use model::{RegisterModel, ReplyFraming};
pub use server_counters::ServerCounters;
pub use stats::{Percentiles, ResendChecks, Summary};
use stats::{RunInfo, Stats};

use ofd_protocol::Dialect;

use crate::secret::Secret;

/// ФФД version of the generated RU documents.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ffd {
    /// ФФД 1.05: only tags from the 1.05 tables, readable by any 1.05 decoder.
    #[value(name = "1.05")]
    V105,
    /// ФФД 1.1.
    #[value(name = "1.1")]
    V11,
    /// ФФД 1.2 (item kinds and measures of the 1.2 tables).
    #[value(name = "1.2")]
    V12,
}

/// Arguments of the subcommand.
#[derive(clap::Args, Debug)]
pub struct EmulateArgs {
    /// OFD address to send to, HOST:PORT.
    #[arg(long)]
    pub target: String,
    /// Register dialect.
    #[arg(long, default_value = "ru")]
    pub dialect: Dialect,
    /// Number of simulated registers.
    #[arg(long, default_value_t = 10)]
    pub registers: u64,
    /// Documents each register sends (a cap when --duration is given).
    #[arg(long, default_value_t = 10)]
    pub documents_per_register: u64,
    /// Registers talking at the same time.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Stop handing out new documents after this many seconds; in-flight ones are finished.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Offer documents at this steady rate (documents/s across the fleet) instead of as fast as
    /// the registers get answers. Real registers send when a sale happens, not when the last
    /// answer came, so this is how latency at a given load is measured: it counts from each
    /// document's scheduled time, and a server that falls behind shows it in the delivery
    /// latency instead of quietly slowing the load down. --concurrency still caps the registers
    /// talking at once.
    #[arg(long, value_name = "DOCS_PER_S", value_parser = positive_rate)]
    pub rate: Option<f64>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// ФФД version of RU documents.
    #[arg(long, value_enum, default_value = "1.2")]
    pub ffd: Ffd,
    /// Master secret of the soft crypto unit (hex): RU documents then carry fiscal signs the
    /// server can verify. Without it the signs are filler bytes. Same variable as the server's.
    #[arg(long, env = "OFD_CRYPTO_SOFT_SECRET", hide_env_values = true)]
    pub soft_secret: Option<Secret>,
    /// After each acknowledgement, resend the document and require a byte-identical reply.
    #[arg(long)]
    pub resend_check: bool,
    /// Seed of every random choice (documents, faults); random when absent, printed in the summary.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Make RU documents as if the clock read this UTC time (seconds) at each register's first
    /// document and one second more at each next one, instead of reading the clock: the same
    /// seed then makes the same bytes on every run, so a later run resends an earlier one's
    /// documents byte for byte (a resend storm against an old store).
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub clock_start: Option<i64>,
    /// Fleet number (0..999999) inside the ФН numbers `9999<fleet:6><register:6>`, so that runs
    /// against the same database do not collide. Derived from the seed when absent (a hash of
    /// it, so neighbouring seeds name far-apart fleets).
    #[arg(long)]
    pub fleet: Option<u32>,
    /// Prometheus metrics of the server (e.g. `http://127.0.0.1:9898/metrics`): its conflict,
    /// quarantine and refusal counters are read before and after the run, and the run fails
    /// when any of them grew.
    #[arg(long, value_name = "URL")]
    pub metrics_url: Option<String>,
    /// Give a document up after it stayed unacknowledged this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub give_up_after: f64,
    /// Provision the fleet in this database first (RU: register the ФН numbers; KZ: allocate a
    /// system id and first token per register), as the operator's cabinet would.
    #[arg(long, value_name = "DATABASE_URL")]
    pub provision: Option<String>,
    /// Provision the fleet through the account API at this URL (e.g. `http://127.0.0.1:8088`)
    /// instead of the database: RU registers by ФН number, KZ registers get their system ids
    /// and first tokens from the answers. Needs --api-key, which travels in clear over http://,
    /// so keep plain HTTP to loopback or a private network.
    #[arg(long, requires = "api_key", conflicts_with_all = ["provision", "kz_credentials"])]
    pub account_url: Option<String>,
    /// API key for --account-url (`ofd account key create`).
    #[arg(long, env = "OFD_API_KEY", hide_env_values = true)]
    pub api_key: Option<Secret>,
    /// KZ: credentials of already provisioned registers, one JSON object per line as printed by
    /// `ofd register add --dialect kz --json`; one register per line.
    #[arg(long)]
    pub kz_credentials: Option<std::path::PathBuf>,
    /// KZ: probability that a document starts an offline burst (3–10 documents queued with
    /// their own times and replayed in order).
    #[arg(long, default_value_t = 0.0)]
    pub kz_offline_rate: f64,
    /// Link-realism switches.
    #[command(flatten)]
    pub link: LinkArgs,
    /// Instead of sending documents, hold this many idle connections open (memory figures).
    #[arg(long)]
    pub idle_connections: Option<usize>,
    /// How long to hold idle connections, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub hold: f64,
    /// Process id of the server, to report its resident memory around the idle-connection test.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// Run the subcommand: print the summary (text or `--json`), fail unless every document was
/// acknowledged and verified.
pub async fn run(args: EmulateArgs) -> anyhow::Result<()> {
    if let Some(count) = args.idle_connections {
        let hold = Duration::from_secs_f64(args.hold);
        return idle::run(&args.target, count, hold, args.server_pid, args.json).await;
    }
    let json = args.json;
    let summary = execute(args).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&summary).context("serialising the summary")?
        );
    } else {
        print!("{}", summary.to_text());
    }
    if !summary.all_verified() {
        bail!("{}", summary.verdict_line());
    }
    Ok(())
}

/// Run the emulation described by `args` (not the idle mode) and return its summary: the
/// library entry point for tests and tools.
pub async fn execute(args: EmulateArgs) -> anyhow::Result<Summary> {
    if !(0.0..=1.0).contains(&args.link.drop_rate) {
        bail!("--drop-rate must be between 0 and 1");
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let fleet = args.fleet.unwrap_or_else(|| fleet_of_seed(seed));
    if fleet >= 1_000_000 {
        bail!("--fleet must be below 1000000");
    }
    let (framing, registers) = build_fleet(&args, seed, fleet).await?;
    let metrics = match &args.metrics_url {
        Some(url) => {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("building the metrics client")?;
            let before = ServerCounters::fetch(&client, url).await?;
            Some((client, url.clone(), before))
        }
        None => None,
    };
    let fleet_size = registers.len() as u64;
    let planned = fleet_size.saturating_mul(args.documents_per_register);

    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let ctrl_c = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
            }
        })
    };
    let started = Instant::now();
    let progress = Progress::start(planned, Arc::clone(&stats));
    let plan = load::Plan {
        target: args.target.clone(),
        link: args.link.clone(),
        concurrency: args.concurrency,
        deadline: args
            .duration
            .map(|seconds| started + Duration::from_secs_f64(seconds)),
        give_up_after: Duration::from_secs_f64(args.give_up_after),
        resend_check: args.resend_check,
        seed,
        clock_start: args.clock_start,
        pacer: args.rate.map(|rate| load::Pacer::new(started, rate)),
    };
    let latencies = load::run(plan, framing, registers, Arc::clone(&stats), stop).await;
    let elapsed = started.elapsed();
    progress.finish();
    ctrl_c.abort();

    let info = RunInfo {
        dialect: args.dialect.as_str(),
        target: args.target.clone(),
        registers: fleet_size,
        concurrency: args.concurrency.clamp(1, fleet_size.max(1) as usize) as u64,
        offered_rate: args.rate,
        elapsed,
        seed,
        fleet,
    };
    let mut summary = Summary::build(info, &stats, &latencies);
    if let Some((client, url, before)) = metrics {
        let after = ServerCounters::fetch(&client, &url).await?;
        summary.set_server_growth(after.since(before));
    }
    Ok(summary)
}

/// The fleet a seed names: a 64-bit mix of the seed (splitmix64's finaliser) reduced to the six
/// fleet digits, so that seeds 1 and 1000001 do not share drives.
pub fn fleet_of_seed(seed: u64) -> u32 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % 1_000_000) as u32
}

/// Build the simulated registers of the chosen dialect.
async fn build_fleet(
    args: &EmulateArgs,
    seed: u64,
    fleet: u32,
) -> anyhow::Result<(Arc<dyn ReplyFraming>, Vec<Box<dyn RegisterModel>>)> {
    match args.dialect {
        Dialect::Ru => {
            if let Some(url) = &args.provision {
                provision::ru_fleet(url, fleet, args.registers).await?;
            } else if let Some(client) = account_client(args)? {
                provision_api::ru_fleet(&client, fleet, args.registers).await?;
            }
            let settings = ru::FleetSettings {
                ffd: args.ffd,
                signer: ru_signer(args)?,
                documents: args.documents_per_register,
                fleet,
                seed,
            };
            Ok((
                Arc::new(ru::RuFraming),
                ru::fleet(args.registers, &settings)?,
            ))
        }
        Dialect::Kz => {
            let credentials = match (&args.provision, &args.kz_credentials, account_client(args)?) {
                (Some(url), None, None) => provision::kz_fleet(url, fleet, args.registers).await?,
                (None, Some(path), None) => {
                    let mut credentials = provision::kz_credentials_file(path)?;
                    credentials.truncate(usize::try_from(args.registers).unwrap_or(usize::MAX));
                    credentials
                }
                (None, None, Some(client)) => {
                    provision_api::kz_fleet(&client, fleet, args.registers).await?
                }
                _ => bail!(
                    "KZ registers need one of --provision DATABASE_URL, --kz-credentials FILE \
                     or --account-url URL"
                ),
            };
            if args.clock_start.is_some() {
                bail!(
                    "--clock-start applies to RU documents only: a KZ request carries its \
                     register's current token, so no run repeats another's bytes"
                );
            }
            if !(0.0..=1.0).contains(&args.kz_offline_rate) {
                bail!("--kz-offline-rate must be between 0 and 1");
            }
            let settings = kz::FleetSettings {
                documents: args.documents_per_register,
                offline_rate: args.kz_offline_rate,
                seed,
            };
            let now = crate::clock::unix_seconds();
            Ok((
                Arc::new(kz::KzFraming),
                kz::fleet(&credentials, &settings, now),
            ))
        }
    }
}

/// The account API client when `--account-url` is given.
fn account_client(args: &EmulateArgs) -> anyhow::Result<Option<provision_api::AccountClient>> {
    let Some(url) = &args.account_url else {
        return Ok(None);
    };
    let key = args
        .api_key
        .as_ref()
        .context("--account-url needs --api-key (or OFD_API_KEY)")?;
    provision_api::AccountClient::new(url, key).map(Some)
}

/// The RU signer: the soft crypto unit when its secret is given, filler signs otherwise.
fn ru_signer(args: &EmulateArgs) -> anyhow::Result<ru::Signer> {
    match &args.soft_secret {
        None => Ok(ru::Signer::Filler),
        Some(secret) => {
            let secret =
                hex::decode(secret.expose().trim()).context("--soft-secret is not valid hex")?;
            // Full-length ФПО: a confirmation's ФПО must be a prefix of it, whatever length the
            // server's unit is configured to.
            let unit = crate::crypto::soft::SoftUnit::new(secret, 32)?;
            Ok(ru::Signer::Soft(Arc::new(unit)))
        }
    }
}

/// The terminal progress bar (drawn on stderr only when it is a terminal).
struct Progress {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn start(planned: u64, stats: Arc<Stats>) -> Self {
        let bar = ProgressBar::with_draw_target(Some(planned), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} acked ({per_sec}) {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        let ticker = {
            let bar = bar.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                loop {
                    tick.tick().await;
                    bar.set_position(stats.acked.load(Ordering::Relaxed));
                    bar.set_message(format!(
                        "resends {} errors {}",
                        stats.resends.load(Ordering::Relaxed),
                        stats.error_total()
                    ));
                }
            })
        };
        Progress { bar, ticker }
    }

    fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// `--rate`: a finite number of documents per second above zero.
fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        Ok(_) => Err("the rate must be above 0".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}
