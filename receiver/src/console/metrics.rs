//! What this receiver instance counted since it started (batches, records by outcome, refused
//! requests by error code, enrolments by outcome), and the Prometheus text exposition of those
//! counts with the database's figures ([`crate::storage::Overview`]). The format is a few lines
//! of text (<https://prometheus.io/docs/instrumenting/exposition_formats/>), written here rather
//! than through a metrics crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::storage::Overview;

/// Counters of one receiver instance.
#[derive(Debug, Default)]
pub struct Metrics {
    batches_accepted: AtomicU64,
    records_accepted: AtomicU64,
    records_duplicate: AtomicU64,
    records_rejected: AtomicU64,
    /// Refused batch and manifest requests, by the error code answered.
    refused: Mutex<BTreeMap<&'static str, u64>>,
    enrolments: AtomicU64,
    /// Enrolments refused for a wrong, used or expired code: counted here, not in the audit
    /// log (see [`crate::fleet::enrolment_entry`]).
    enrolments_refused: AtomicU64,
}

/// The counters as the console shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub batches_accepted: u64,
    pub records_accepted: u64,
    pub records_duplicate: u64,
    pub records_rejected: u64,
    pub refused: BTreeMap<&'static str, u64>,
    pub enrolments: u64,
    pub enrolments_refused: u64,
}

impl Metrics {
    /// A batch answered with a result per record (`accepted`, `duplicate` or `rejected`).
    pub fn batch<'a>(&self, statuses: impl IntoIterator<Item = &'a str>) {
        self.batches_accepted.fetch_add(1, Ordering::Relaxed);
        for status in statuses {
            let counter = match status {
                "accepted" => &self.records_accepted,
                "duplicate" => &self.records_duplicate,
                _ => &self.records_rejected,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A device request refused whole, with the error code answered.
    pub fn refused(&self, code: &'static str) {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        *refused.entry(code).or_insert(0) += 1;
    }

    /// A device enrolled (`true`), or refused for its code (`false`).
    pub fn enrolment(&self, enrolled: bool) {
        let counter = if enrolled {
            &self.enrolments
        } else {
            &self.enrolments_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> Counts {
        Counts {
            batches_accepted: self.batches_accepted.load(Ordering::Relaxed),
            records_accepted: self.records_accepted.load(Ordering::Relaxed),
            records_duplicate: self.records_duplicate.load(Ordering::Relaxed),
            records_rejected: self.records_rejected.load(Ordering::Relaxed),
            refused: self
                .refused
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            enrolments: self.enrolments.load(Ordering::Relaxed),
            enrolments_refused: self.enrolments_refused.load(Ordering::Relaxed),
        }
    }
}

/// A label value as the text format writes it.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One metric family: its help, type and samples (`labels`, value).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, i64)]) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The Prometheus text exposition of `counts` and `overview`.
pub fn exposition(counts: &Counts, overview: &Overview) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "honnin_records_stored",
        "gauge",
        "Records held by the receiver (all instances on its database).",
        &[(String::new(), overview.records)],
    );
    family(
        &mut out,
        "honnin_devices",
        "gauge",
        "Enrolled devices by state.",
        &[
            ("{state=\"active\"}".into(), overview.devices_active),
            ("{state=\"revoked\"}".into(), overview.devices_revoked),
        ],
    );
    family(
        &mut out,
        "honnin_batches_accepted_total",
        "counter",
        "Batches this instance answered with a result per record.",
        &[(String::new(), count(counts.batches_accepted))],
    );
    family(
        &mut out,
        "honnin_records_ingested_total",
        "counter",
        "Records of accepted batches, by outcome.",
        &[
            (
                "{outcome=\"accepted\"}".into(),
                count(counts.records_accepted),
            ),
            (
                "{outcome=\"duplicate\"}".into(),
                count(counts.records_duplicate),
            ),
            (
                "{outcome=\"rejected\"}".into(),
                count(counts.records_rejected),
            ),
        ],
    );
    let refused: Vec<(String, i64)> = counts
        .refused
        .iter()
        .map(|(code, n)| (format!("{{code=\"{}\"}}", label(code)), count(*n)))
        .collect();
    family(
        &mut out,
        "honnin_device_requests_refused_total",
        "counter",
        "Device batch and manifest requests this instance refused, by error code.",
        &refused,
    );
    family(
        &mut out,
        "honnin_enrolments_total",
        "counter",
        "Device enrolments this instance answered, by outcome (refused: a wrong, used or expired code).",
        &[
            ("{outcome=\"enrolled\"}".into(), count(counts.enrolments)),
            (
                "{outcome=\"refused\"}".into(),
                count(counts.enrolments_refused),
            ),
        ],
    );
    let per_sender = |value: fn(&crate::storage::SenderFigures) -> Option<i64>| {
        overview
            .senders
            .iter()
            .filter_map(|s| {
                value(s).map(|v| (format!("{{sender=\"{}\"}}", label(&s.sender_id)), v))
            })
            .collect::<Vec<_>>()
    };
    family(
        &mut out,
        "honnin_feed_records",
        "gauge",
        "Records in each sender's feed.",
        &per_sender(|s| Some(s.feed_records)),
    );
    family(
        &mut out,
        "honnin_webhook_lag_records",
        "gauge",
        "Records of each sender's feed its webhook has not been pushed yet.",
        &per_sender(|s| s.webhook_lag),
    );
    family(
        &mut out,
        "honnin_webhook_failures",
        "gauge",
        "Failed pushes in a row of each sender's webhook.",
        &per_sender(|s| s.webhook_lag.map(|_| s.webhook_failures)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::SenderFigures;

    #[test]
    fn the_exposition_has_every_family_and_escapes_labels() {
        let metrics = Metrics::default();
        metrics.batch(["accepted", "accepted", "duplicate", "rejected"]);
        metrics.refused("device_revoked");
        metrics.refused("device_revoked");
        metrics.enrolment(true);
        metrics.enrolment(false);
        metrics.enrolment(false);
        let overview = Overview {
            records: 7,
            devices_active: 2,
            devices_revoked: 1,
            senders: vec![
                SenderFigures {
                    sender_id: "bank\"a".into(),
                    feed_records: 7,
                    webhook_lag: Some(3),
                    webhook_failures: 2,
                },
                SenderFigures {
                    sender_id: "bank-b".into(),
                    feed_records: 0,
                    webhook_lag: None,
                    webhook_failures: 0,
                },
            ],
        };
        let text = exposition(&metrics.counts(), &overview);
        for line in [
            "honnin_records_stored 7",
            "honnin_devices{state=\"revoked\"} 1",
            "honnin_records_ingested_total{outcome=\"accepted\"} 2",
            "honnin_device_requests_refused_total{code=\"device_revoked\"} 2",
            "honnin_enrolments_total{outcome=\"enrolled\"} 1",
            "honnin_enrolments_total{outcome=\"refused\"} 2",
            "honnin_webhook_lag_records{sender=\"bank\\\"a\"} 3",
            "honnin_webhook_failures{sender=\"bank\\\"a\"} 2",
            "honnin_feed_records{sender=\"bank-b\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(!text.contains("honnin_webhook_lag_records{sender=\"bank-b\"}"));
        // Every sample line is `name{labels} integer`.
        for sample in text.lines().filter(|l| !l.starts_with('#')) {
            let value = sample.rsplit(' ').next().expect("value");
            assert!(value.parse::<i64>().is_ok(), "{sample}");
        }
    }
}
