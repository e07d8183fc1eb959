//! Every metric name the shipped alert rules (deploy/prometheus/alerts.yml) and the Grafana
//! dashboard (deploy/grafana/ofd.json) use is one the binary registers: a rename cannot leave
//! an alert that never fires or a panel that stays empty.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use ofd::forward::metrics::ForwardMetrics;
use ofd::ingest::metrics::Metrics;
use ofd::store::disk_space::DiskSpace;
use ofd::store::turn_metrics::TurnsHeldCollector;
use ofd::tls::{CertificateExpiry, ReloadableCert};
use prometheus::Registry;

/// Names of every family the roles export, with a value in each so that labelled families show.
fn exported() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut add = |registry: &Registry| {
        for family in registry.gather() {
            let name = family.name().to_owned();
            if family.get_field_type() == prometheus::proto::MetricType::HISTOGRAM {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
            names.insert(name);
        }
    };

    let ingest = Metrics::new();
    let registry = ingest.registry();
    registry
        .register(Box::new(
            DiskSpace::new(std::env::temp_dir()).expect("gauges"),
        ))
        .expect("disk space");
    registry
        .register(Box::new(
            TurnsHeldCollector::new(Arc::default()).expect("counters"),
        ))
        .expect("write turn");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("self-signed");
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("c.key"));
    std::fs::write(&cert_path, cert.pem()).expect("cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("key");
    let loaded = Arc::new(ReloadableCert::load(&cert_path, &key_path).expect("loads"));
    registry
        .register(Box::new(
            CertificateExpiry::new(loaded, "ingest").expect("gauge"),
        ))
        .expect("expiry");
    add(&registry);

    add(&ofd::account::metrics::AccountMetrics::new().registry());
    let registry = Registry::new();
    ofd::project::metrics::ProjectMetrics::new(&registry).expect("project metrics");
    add(&registry);

    let registry = Registry::new();
    let forward = ForwardMetrics::new(&registry).expect("forward metrics");
    forward.send_errors.with_label_values(&["401"]).inc();
    forward.batches.with_label_values(&["sent"]).inc();
    forward.documents.with_label_values(&["sent"]).inc();
    add(&registry);
    names
}

/// Every `ofd_…` identifier in `text`.
fn used_in(text: &str) -> BTreeSet<String> {
    text.match_indices("ofd_")
        .filter(|(at, _)| {
            // Not the tail of a longer identifier (`job="ofd-serve"` has a hyphen, not this).
            !text[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_alert_rules_and_the_dashboard_name_only_exported_metrics() {
    let exported = exported();
    for file in ["deploy/prometheus/alerts.yml", "deploy/grafana/ofd.json"] {
        let used = used_in(&read(file));
        assert!(used.len() >= 10, "{file} uses the metrics: {used:?}");
        let unknown: Vec<_> = used.difference(&exported).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the binary does not export: {unknown:?}"
        );
    }
}

#[test]
fn a_renamed_metric_would_be_caught() {
    let used = used_in("rate(ofd_ingest_frames_totl[5m]) and ofd_store_disk_free_bytes");
    let exported = exported();
    let unknown: Vec<_> = used.difference(&exported).collect();
    assert_eq!(unknown, vec!["ofd_ingest_frames_totl"]);
}
