//! Configuration of the projector (`ofd project`, and the projector inside `ofd all`): the
//! `[project]` table, `OFD_PROJECT_*` variables and flags, declared once each in
//! [`ProjectOptions`] and resolved into a [`ProjectConfig`]. Precedence as everywhere: flag, env
//! var, file, default ([`crate::config_file`]).

use std::net::SocketAddr;

use serde::Deserialize;

use crate::config_file::{ensure, ConfigError};

/// Projector options, one declaration each: a flag, an env var and a `[project]` key.
#[derive(clap::Args, Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProjectOptions {
    /// Most documents projected in one write transaction. [default: 5000]
    #[arg(long, env = "OFD_PROJECT_BATCH", value_name = "N")]
    pub batch: Option<i64>,
    /// Pause between looks when every document is projected. [default: 200]
    #[arg(long, env = "OFD_PROJECT_POLL_MS", value_name = "MS")]
    pub poll_ms: Option<u64>,
    /// How many ids below the cursor the sweep looks back for documents committed after later
    /// ones (PostgreSQL). [default: 10000]
    #[arg(long, env = "OFD_PROJECT_SWEEP_WINDOW", value_name = "N")]
    pub sweep_window: Option<i64>,
    /// Pause between sweeps. [default: 5000]
    #[arg(long, env = "OFD_PROJECT_SWEEP_MS", value_name = "MS")]
    pub sweep_ms: Option<u64>,
    /// Steps run at once on different shards (PostgreSQL; SQLite has one writer and runs one).
    /// [default: 2]
    #[arg(long, env = "OFD_PROJECT_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Step aside for ingest while documents arrive at this many a second or more (see
    /// `yield_max_lag_ms`). [default: 1000]
    #[arg(long, env = "OFD_PROJECT_YIELD_ABOVE", value_name = "N")]
    pub yield_above: Option<u64>,
    /// Step aside for ingest at most until the oldest unprojected document is this old; 0 never
    /// steps aside. [default: 5000]
    #[arg(long, env = "OFD_PROJECT_YIELD_MAX_LAG_MS", value_name = "MS")]
    pub yield_max_lag_ms: Option<u64>,
    /// Address of this role's Prometheus `/metrics` endpoint (none when absent).
    #[arg(long, env = "OFD_PROJECT_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

crate::layer!(ProjectOptions {
    batch,
    poll_ms,
    sweep_window,
    sweep_ms,
    workers,
    yield_above,
    yield_max_lag_ms,
    metrics_listen,
});

/// The projector's settings, resolved and validated.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// Documents per write transaction.
    pub batch: i64,
    /// Idle poll (ms).
    pub poll_ms: u64,
    /// Sweep window (ids).
    pub sweep_window: i64,
    /// Sweep period (ms).
    pub sweep_ms: u64,
    /// Concurrent steps on PostgreSQL, each on its own shard (1 ..= [`super::apply::SHARDS`]).
    pub workers: usize,
    /// When to step aside for ingest ([`super::yield_policy`]).
    pub yield_policy: super::yield_policy::YieldPolicy,
    /// Prometheus endpoint, if any.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        ProjectOptions::default()
            .resolve()
            .expect("the defaults are valid")
    }
}

impl ProjectOptions {
    /// Fill what no layer set from the defaults and validate.
    pub fn resolve(self) -> Result<ProjectConfig, ConfigError> {
        let config = ProjectConfig {
            // On PostgreSQL a step's fixed cost (reading after the cursor, one upsert statement
            // per table, the cursor row) is what a small batch pays per document: catching up
            // on a 10M-document store, 500 gave 1.00-1.03x ingest's ack rate, 2000 1.83-1.95x,
            // 5000 2.31-2.49x (benches/README.md, twelfth round).
            batch: self.batch.unwrap_or(5_000),
            poll_ms: self.poll_ms.unwrap_or(200),
            sweep_window: self.sweep_window.unwrap_or(10_000),
            sweep_ms: self.sweep_ms.unwrap_or(5_000),
            workers: self.workers.unwrap_or(2),
            yield_policy: super::yield_policy::YieldPolicy {
                above_per_s: self.yield_above.unwrap_or(1_000),
                max_lag_ms: self.yield_max_lag_ms.unwrap_or(5_000),
            },
            metrics_listen: self.metrics_listen,
        };
        ensure(
            (1..=10_000).contains(&config.batch),
            "project.batch",
            || "must be between 1 and 10000".into(),
        )?;
        ensure(config.poll_ms >= 1, "project.poll_ms", || {
            "must be at least 1".into()
        })?;
        ensure(config.sweep_window >= 0, "project.sweep_window", || {
            "must not be negative".into()
        })?;
        ensure(config.sweep_ms >= 1, "project.sweep_ms", || {
            "must be at least 1".into()
        })?;
        ensure(
            config.yield_policy.above_per_s >= 1,
            "project.yield_above",
            || "must be at least 1".into(),
        )?;
        ensure(
            config.yield_policy.max_lag_ms <= 3_600_000,
            "project.yield_max_lag_ms",
            || "must be at most 3600000 (an hour); 0 never steps aside".into(),
        )?;
        let shards = super::apply::SHARDS as usize;
        ensure(
            (1..=shards).contains(&config.workers),
            "project.workers",
            || format!("must be between 1 and {shards} (one shard per worker)"),
        )?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config_file::{assert_keys_are_fields, ConfigFile, Layer};

    #[test]
    fn flags_over_the_project_table_over_defaults() {
        let file = ConfigFile::parse(Path::new("t.toml"), "[project]\nbatch = 50\npoll_ms = 7\n")
            .expect("parses");
        let flags = ProjectOptions {
            poll_ms: Some(9),
            ..ProjectOptions::default()
        };
        let config = flags
            .over(file.table("project").expect("valid table"))
            .resolve()
            .expect("valid");
        assert_eq!(config.batch, 50);
        assert_eq!(config.poll_ms, 9);
        assert_eq!(config.sweep_window, 10_000);
        assert_keys_are_fields::<ProjectOptions>();
        let invalid = [
            (
                ProjectOptions {
                    batch: Some(0),
                    ..ProjectOptions::default()
                },
                "project.batch",
            ),
            (
                ProjectOptions {
                    workers: Some(5),
                    ..ProjectOptions::default()
                },
                "project.workers",
            ),
            (
                ProjectOptions {
                    yield_above: Some(0),
                    ..ProjectOptions::default()
                },
                "project.yield_above",
            ),
        ];
        for (options, key) in invalid {
            let error = options.resolve().unwrap_err().to_string();
            assert!(error.starts_with(key), "{error}");
        }
        assert_eq!(config.workers, 2);
        assert_eq!(
            config.yield_policy,
            super::super::yield_policy::YieldPolicy {
                above_per_s: 1_000,
                max_lag_ms: 5_000
            }
        );
    }
}
