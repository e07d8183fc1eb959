//! `--metrics-url`: the server's own view of a run. The emulator reads the server's
//! conflict, quarantine and refusal counters before and after, so a run that made the server
//! keep a conflicting or unreadable document fails even when every reply looked right to the
//! registers (a conflict is answered with the first document's confirmation, which a register
//! cannot tell from its own without the signing key).

use anyhow::Context;
use serde::Serialize;

/// Counters of the server that must not grow during a clean run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ServerCounters {
    /// `ofd_ingest_conflicts_total`: a different document under a stored key.
    pub conflicts: u64,
    /// `ofd_ingest_quarantined_total`: frames kept in quarantine.
    pub quarantined: u64,
    /// `ofd_ingest_frames_total{result="refused"}`, every dialect.
    pub refused: u64,
}

impl ServerCounters {
    /// Read the counters from the Prometheus text exposition at `url`.
    pub async fn fetch(client: &reqwest::Client, url: &str) -> anyhow::Result<Self> {
        let response = client
            .get(url)
            .send()
            .await
            .with_context(|| format!("reading the server's metrics at {url}"))?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!("the server's metrics at {url} answered HTTP {status}");
        }
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the server's metrics at {url}"))?;
        Ok(Self::parse(&text))
    }

    /// The counters in a Prometheus text exposition; absent series count as zero.
    pub fn parse(text: &str) -> Self {
        let mut counters = ServerCounters::default();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let value = value.max(0.0) as u64;
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            match name {
                "ofd_ingest_conflicts_total" => counters.conflicts += value,
                "ofd_ingest_quarantined_total" => counters.quarantined += value,
                "ofd_ingest_frames_total" if labels.contains(r#"result="refused""#) => {
                    counters.refused += value
                }
                _ => {}
            }
        }
        counters
    }

    /// How much each counter grew from `before` to `self`.
    pub fn since(self, before: ServerCounters) -> ServerCounters {
        ServerCounters {
            conflicts: self.conflicts.saturating_sub(before.conflicts),
            quarantined: self.quarantined.saturating_sub(before.quarantined),
            refused: self.refused.saturating_sub(before.refused),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_counters_and_sums_label_sets() {
        let text = "# HELP ofd_ingest_conflicts_total x\n\
                    # TYPE ofd_ingest_conflicts_total counter\n\
                    ofd_ingest_conflicts_total 3\n\
                    ofd_ingest_quarantined_total 2\n\
                    ofd_ingest_frames_total{dialect=\"ru\",result=\"refused\"} 4\n\
                    ofd_ingest_frames_total{dialect=\"kz\",result=\"refused\"} 1\n\
                    ofd_ingest_frames_total{dialect=\"ru\",result=\"accepted\"} 90\n";
        let counters = ServerCounters::parse(text);
        assert_eq!(
            counters,
            ServerCounters {
                conflicts: 3,
                quarantined: 2,
                refused: 5
            }
        );
        let before = ServerCounters {
            conflicts: 1,
            quarantined: 2,
            refused: 0,
        };
        assert_eq!(
            counters.since(before),
            ServerCounters {
                conflicts: 2,
                quarantined: 0,
                refused: 5
            }
        );
    }
}
