//! The trust the receiver re-verifies records with: `serve`'s own `--trust-anchors`, `--crl`
//! and `--mdoc-anchors` together with the newest trust bundle the operator loaded
//! (`trust-load` or the console, [`crate::trust_bundle`]), so that a list or a phone issuer the
//! operator loads while serving decides the next batch's records on every instance of the
//! database, without a restart.
//!
//! **The rule.** What `serve` was given is always trusted (deployments that never use
//! `trust-load` keep working). The bundle adds to it: its anchors, lists and phone anchors as of
//! the newest load. An anchor a later load leaves out stops being trusted here as on the devices
//! (that is how a root is retired), unless `serve --trust-anchors` holds it too: the flags are
//! the operator's own configuration and change only with a restart. Revocation is judged with
//! every list held, after the fact ([`honnin_core::verify::x509::check_revocation_among`]): a
//! list that revokes the card on or before the check time fails the record, whichever list is
//! newer, so neither a stale start-up list nor a fresh one can hide a revocation the other shows.
//!
//! **Noticing a load.** [`crate::trust_bundle`] writes the loaded serial under a small settings
//! entry of its own after each load; every batch reads that entry (one indexed row) and
//! rebuilds the verifier only when it changed. The costly part (parsing certificates and lists)
//! happens once per load and instance; the process-wide x509 memo stays valid across rebuilds,
//! since it is keyed by the objects' bytes and the issuer key.
//!
//! **A bundle that does not build** (damaged settings, a certificate or list that no longer
//! parses) never stops ingest and never loosens it: the last good verifier stays in use, the
//! error is logged once per load and shown in `/metrics` (`honnin_receiver_trust_failed`) and
//! in the console's overview, until a good load replaces it.

use std::sync::{Arc, Mutex, RwLock};

use honnin_core::check::Verifier;
use honnin_core::mdoc::IssuerAnchors;
use honnin_core::trust_bundle::BundleEntries;
use honnin_core::verify::x509::{ListSource, TrustAnchors, date};
use serde::Serialize;

use crate::storage::Storage;
use crate::trust_bundle::{LoadedTrust, SERIAL_KEY, TrustLoadError, loaded};

/// What an instance verifies with now, and which load that is.
struct Current {
    verifier: Arc<Verifier>,
    /// The bundle serial merged in (`None`: `serve`'s own trust alone).
    serial: Option<u64>,
    /// The serial entry as last read (`None` inside: no load yet); `None`: never read, so the
    /// first batch reads the bundle whatever the entry says (a bundle loaded before the entry
    /// existed has none).
    seen: Option<Option<Vec<u8>>>,
    /// Why the newest load could not be used, if it could not.
    failure: Option<String>,
}

/// The receiver's verifier: `serve`'s trust, with the newest loaded bundle merged in.
pub struct ReceiverTrust {
    /// `serve`'s own trust, kept whole to merge each bundle into.
    base: Arc<Verifier>,
    current: RwLock<Current>,
    /// Held while a load is merged, so that concurrent batches build it once.
    rebuilding: Mutex<()>,
}

/// What the console and `/metrics` show of the receiver's own verification.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TrustInUse {
    /// The bundle serial merged into `serve`'s trust (`None`: none).
    pub serial: Option<u64>,
    /// Why the newest load is not used (the serial above stays in use).
    pub failure: Option<String>,
}

impl std::fmt::Debug for ReceiverTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReceiverTrust({:?})", self.in_use())
    }
}

impl From<Verifier> for ReceiverTrust {
    fn from(base: Verifier) -> Self {
        Self::new(base)
    }
}

impl ReceiverTrust {
    /// `serve`'s own trust (its flags), before any bundle is read.
    pub fn new(base: Verifier) -> Self {
        let base = Arc::new(base.re_verifying_after_the_fact());
        Self {
            current: RwLock::new(Current {
                verifier: base.clone(),
                serial: None,
                seen: None,
                failure: None,
            }),
            base,
            rebuilding: Mutex::new(()),
        }
    }

    /// The verifier for the next batch: the newest load merged in when the serial entry in
    /// `storage` changed since the last batch. A database error here keeps the verifier in use
    /// (and is logged): the batch itself will meet the same database.
    pub fn for_batch(&self, storage: &dyn Storage) -> Arc<Verifier> {
        let entry = match storage.meta(SERIAL_KEY) {
            Ok(entry) => entry,
            Err(e) => {
                eprintln!("honnin-receiver: reading the trust bundle serial: {e}");
                return self.read().verifier.clone();
            }
        };
        {
            let current = self.read();
            if current.seen.as_ref() == Some(&entry) {
                return current.verifier.clone();
            }
        }
        let _one_at_a_time = self.rebuilding.lock().unwrap_or_else(|e| e.into_inner());
        {
            let current = self.read();
            if current.seen.as_ref() == Some(&entry) {
                return current.verifier.clone();
            }
        }
        let merged = match loaded(storage) {
            Ok(None) => Ok((self.base.clone(), None)),
            Ok(Some(trust)) => self
                .merge(&trust)
                .map(|v| (Arc::new(v), Some(trust.serial))),
            // Not a judgement on the bundle: try again with the next batch.
            Err(TrustLoadError::Storage(e)) => {
                eprintln!("honnin-receiver: reading the trust bundle: {e}");
                return self.read().verifier.clone();
            }
            Err(e) => Err(e.to_string()),
        };
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        current.seen = Some(entry);
        match merged {
            Ok((verifier, serial)) => {
                if serial != current.serial {
                    eprintln!(
                        "honnin-receiver: re-verifying records with trust bundle {} and serve's own trust",
                        serial.map_or_else(|| "none".to_owned(), |s| s.to_string())
                    );
                }
                current.verifier = verifier;
                current.serial = serial;
                current.failure = None;
            }
            Err(why) => {
                let why = format!(
                    "the loaded trust bundle cannot be used ({why}); records are re-verified with {} until a good one is loaded",
                    current.serial.map_or_else(
                        || "serve's own trust".to_owned(),
                        |s| format!("trust bundle {s}")
                    )
                );
                eprintln!("honnin-receiver: {why}");
                current.failure = Some(why);
            }
        }
        current.verifier.clone()
    }

    /// Which load the receiver verifies with, and why a newer one is not used.
    pub fn in_use(&self) -> TrustInUse {
        let current = self.read();
        TrustInUse {
            serial: current.serial,
            failure: current.failure.clone(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    /// `serve`'s trust with `trust`'s anchors, lists and phone anchors added; an error naming
    /// what did not parse.
    fn merge(&self, trust: &LoadedTrust) -> Result<Verifier, String> {
        let entries = BundleEntries::decode(&trust.anchors, &trust.lists, &trust.mdoc_anchors)
            .map_err(|e| e.to_string())?;
        let mut certificates: Vec<Vec<u8>> = self
            .base
            .anchors()
            .iter()
            .map(|a| a.certificate_der().to_vec())
            .collect();
        certificates.extend(entries.anchor_certificates);
        let anchors = TrustAnchors::from_der(certificates).map_err(|e| e.to_string())?;
        let source = ListSource {
            name: format!(
                "trust bundle {} loaded {}",
                trust.serial,
                date(trust.loaded_at)
            ),
            // A loaded list is used until a load replaces it; its own dates still bound it.
            expires_at: i64::MAX,
        };
        let mut lists = self.base.revocation_lists().to_vec();
        lists.extend(
            entries
                .lists
                .into_iter()
                .map(|list| list.delivered_by(source.clone())),
        );
        let mut phones: Vec<Vec<u8>> = self
            .base
            .mdoc_anchors()
            .iter()
            .map(|a| a.certificate_der().to_vec())
            .collect();
        for der in entries.mdoc_certificates {
            // One issuer in both `serve --mdoc-anchors` and the bundle is one anchor.
            if !phones.contains(&der) {
                phones.push(der);
            }
        }
        let phones = IssuerAnchors::from_der(&phones).map_err(|e| e.to_string())?;
        let mut verifier = Verifier::new(anchors)
            .with_revocation_lists(lists)
            .with_mdoc_anchors(phones)
            .re_verifying_after_the_fact();
        if self.base.allows_sha1() {
            verifier = verifier.allowing_sha1();
        }
        Ok(verifier)
    }
}

/// `in_use` in the Prometheus text format: the serial verified with, and 1 while a newer load
/// cannot be used (alert on it).
pub fn exposition(in_use: &TrustInUse) -> String {
    let serial = in_use.serial.unwrap_or(0);
    let failed = u8::from(in_use.failure.is_some());
    format!(
        "# HELP honnin_receiver_trust_serial The trust bundle serial this instance re-verifies records with, beside serve's own trust (0: none).\n\
         # TYPE honnin_receiver_trust_serial gauge\n\
         honnin_receiver_trust_serial {serial}\n\
         # HELP honnin_receiver_trust_failed 1 while the newest loaded trust bundle cannot be used by this instance (it keeps the one before).\n\
         # TYPE honnin_receiver_trust_failed gauge\n\
         honnin_receiver_trust_failed {failed}\n"
    )
}
