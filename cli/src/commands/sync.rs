//! `honnin enrol` and `honnin sync`: the device side of store-and-forward. Enrolment registers the
//! device key with the receiver once (the operator's one-time code); sync sends every record not
//! yet acknowledged and marks each synced only on its verified receipt.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use honnin_core::sync::pin_announcement::PinAnnouncementError;
use honnin_core::sync::rustls::pki_types::CertificateDer;
use honnin_core::sync::rustls::pki_types::pem::PemObject;
use honnin_core::sync::{FetchedTrustBundle, SpkiPin, SyncClient, SyncConfig, SyncError, TlsTrust};
use honnin_core::verify::{Clock as _, SystemClock, SystemRandom};

use super::records::{load_device_key, open_store, read_receipt_key, with_suffix};
use crate::error::CliError;
use crate::secrets::SecretSource;

/// Where the device's store, keys and receiver are, and how the receiver is trusted.
#[derive(clap::Args)]
pub struct DeviceArgs {
    /// The receiver's base URL, e.g. https://receiver.example or https://127.0.0.1:8750.
    #[arg(long)]
    pub receiver: String,
    /// This device's id, as the operator enrolled it.
    #[arg(long, default_value = "desktop")]
    pub device: String,
    /// The record store (as given to `honnin check --store`).
    #[arg(long)]
    pub store: PathBuf,
    /// The store's key file (default: <store>.key).
    #[arg(long)]
    pub store_key: Option<PathBuf>,
    /// The device key (default: device-key.pem next to the store).
    #[arg(long)]
    pub device_key: Option<PathBuf>,
    /// The receiver's receipt key, written at enrolment (default: <store>.receiver-key).
    #[arg(long)]
    pub receiver_key: Option<PathBuf>,
    /// Trust only the receiver TLS key with this pin (sha256/<base64>, as the operator hands it
    /// out with the enrolment code). `honnin enrol` keeps it in <store>.receiver-pin, and
    /// `honnin sync` then accepts only that key.
    #[arg(long, conflicts_with = "receiver_ca")]
    pub receiver_pin: Option<SpkiPin>,
    /// Trust the receiver's certificate through this private CA (PEM or DER) instead of the
    /// public web PKI roots.
    #[arg(long)]
    pub receiver_ca: Option<PathBuf>,
    /// Allow a plain http:// receiver URL; only ever to a loopback address (tests).
    #[arg(long)]
    pub insecure_loopback_http: bool,
    /// Read the enrolment code from stdin instead of the terminal.
    #[arg(long)]
    pub stdin: bool,
}

impl DeviceArgs {
    fn device_key_path(&self) -> PathBuf {
        self.device_key
            .clone()
            .unwrap_or_else(|| self.store.with_file_name("device-key.pem"))
    }

    fn receiver_key_path(&self) -> PathBuf {
        self.receiver_key
            .clone()
            .unwrap_or_else(|| with_suffix(&self.store, ".receiver-key"))
    }

    fn receiver_pin_path(&self) -> PathBuf {
        with_suffix(&self.store, ".receiver-pin")
    }

    /// Where the TLS pins the receiver announced (signed by its receipt key) are kept.
    fn announced_pins_path(&self) -> PathBuf {
        with_suffix(&self.store, ".receiver-pins")
    }

    /// The pins the receiver announced last, and when it signed them; `None` before any.
    fn announced_pins(&self) -> Result<Option<KeptPins>, CliError> {
        let path = self.announced_pins_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<KeptPins>(&bytes)
                .ok()
                .filter(|kept| !kept.pins.is_empty())
                .map(Some)
                .ok_or_else(|| {
                    CliError::Environment(format!(
                        "{}: not the receiver's announced TLS pins; delete it and sync again, or enrol again",
                        path.display()
                    ))
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CliError::Environment(format!("{}: {e}", path.display()))),
        }
    }

    /// The pin kept at enrolment, if the device was enrolled with one.
    fn stored_pin(&self) -> Result<Option<SpkiPin>, CliError> {
        let path = self.receiver_pin_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => text.parse().map(Some).map_err(|e| {
                CliError::Environment(format!("{}: {e}; enrol again", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CliError::Environment(format!("{}: {e}", path.display()))),
        }
    }

    fn ca_certificates(path: &Path) -> Result<Vec<Vec<u8>>, CliError> {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?;
        if !bytes.starts_with(b"-----BEGIN") {
            return Ok(vec![bytes]);
        }
        CertificateDer::pem_slice_iter(&bytes)
            .map(|certificate| certificate.map(|c| c.as_ref().to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
    }

    /// The configuration with `trust`, checked before anything is sent.
    fn config(&self, trust: TlsTrust) -> Result<SyncConfig, CliError> {
        let mut config = SyncConfig::new(&self.receiver, &self.device).with_trust(trust);
        config.allow_loopback_http = self.insecure_loopback_http;
        config.check().map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(config)
    }

    /// The trust of the options: a pin, a private CA, or the public roots.
    fn given_trust(&self) -> Result<TlsTrust, CliError> {
        Ok(match (&self.receiver_pin, &self.receiver_ca) {
            (Some(pin), _) => TlsTrust::Pinned(*pin),
            (None, Some(path)) => TlsTrust::PrivateCa(Self::ca_certificates(path)?),
            (None, None) => TlsTrust::WebPki,
        })
    }
}

/// The TLS pins a receiver announced, as kept beside the store: they were verified with the
/// receipt key before they were written, and replace the enrolment pin from then on.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeptPins {
    issued_at: i64,
    pins: Vec<SpkiPin>,
}

/// Writes `kept` beside the store in place of the pins kept before (temporary file, renamed).
fn keep_pins(args: &DeviceArgs, kept: &KeptPins) -> Result<(), CliError> {
    let path = args.announced_pins_path();
    let temporary = with_suffix(&path, ".new");
    let text = serde_json::to_vec(kept).map_err(|e| CliError::Io(e.to_string()))?;
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))
}

fn sync_error(error: SyncError) -> CliError {
    match error {
        SyncError::Config(_) => CliError::Usage(error.to_string()),
        SyncError::DeviceRevoked { message } => CliError::Environment(format!(
            "this device has been revoked by the receiver's operator and can no longer sync; \
             its records stay in the store. The receiver says: {message}"
        )),
        other => CliError::Environment(other.to_string()),
    }
}

pub fn enrol(args: &DeviceArgs) -> Result<ExitCode, CliError> {
    let mut config = args.config(args.given_trust()?)?;
    // Told at enrolment too: the receiver's audit entry of it names the app that enrolled.
    config.app_version = Some(format!("honnin-cli/{}", env!("CARGO_PKG_VERSION")));
    let signer = load_device_key(&args.device_key_path())?;
    let source = if args.stdin {
        SecretSource::Stdin
    } else {
        SecretSource::Terminal
    };
    let code = source.read("enrolment code from the receiver's operator")?;
    let enrolment = SyncClient::enrol_device(&config, &code, &signer).map_err(sync_error)?;
    let path = args.receiver_key_path();
    std::fs::write(&path, enrolment.receipt_key.spki_der())
        .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
    // The pin is part of the enrolment: every later sync accepts only that key (and the next
    // ones the receiver announces); pins announced to an earlier enrolment are dropped.
    let announced = args.announced_pins_path();
    match std::fs::remove_file(&announced) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::Io(format!("{}: {e}", announced.display()))),
    }
    let pin_path = args.receiver_pin_path();
    match args.receiver_pin {
        Some(pin) => std::fs::write(&pin_path, format!("{pin}\n"))
            .map_err(|e| CliError::Io(format!("{}: {e}", pin_path.display())))?,
        None => match std::fs::remove_file(&pin_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CliError::Io(format!("{}: {e}", pin_path.display()))),
        },
    }
    eprintln!(
        "enrolled device {} (key {}); receiver's receipt key saved to {}",
        args.device,
        signer.device_key().id_hex(),
        path.display()
    );
    match (args.receiver_pin, enrolment.tls_pin) {
        (Some(pin), _) => eprintln!(
            "receiver TLS key pinned ({pin}, kept in {})",
            pin_path.display()
        ),
        (None, Some(announced)) => eprintln!(
            "the receiver announces TLS key {announced}; this device trusts it through its CA, not by pin"
        ),
        (None, None) => {}
    }
    Ok(ExitCode::SUCCESS)
}

pub fn sync(args: &DeviceArgs, batch_size: usize, json: bool) -> Result<ExitCode, CliError> {
    // The pins kept win: those the receiver announced last (signed by its receipt key), else
    // the one of the enrolment. One given now must be among them.
    let kept_pins = match args.stored_pin()? {
        Some(stored) => Some(match args.announced_pins()? {
            Some(announced) => announced.pins,
            None => vec![stored],
        }),
        None => None,
    };
    let announced_at = args.announced_pins()?.map(|kept| kept.issued_at);
    let trust = match (&kept_pins, args.receiver_pin) {
        (Some(kept), Some(given)) if !kept.contains(&given) => {
            return Err(CliError::Usage(format!(
                "--receiver-pin {given} is not a pin this device trusts ({}); enrol again to change it",
                kept.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        (Some(kept), _) => TlsTrust::PinnedSet(kept.clone()),
        (None, _) => args.given_trust()?,
    };
    let mut config = args.config(trust)?;
    config.batch_size = batch_size.max(1);
    config.app_version = Some(format!("honnin-cli/{}", env!("CARGO_PKG_VERSION")));
    let signer = load_device_key(&args.device_key_path())?;
    let key_path = args.receiver_key_path();
    let receipt_key = read_receipt_key(&key_path)?.ok_or_else(|| {
        CliError::Environment(format!(
            "{}: no receipt key; enrol this device first with `honnin enrol`",
            key_path.display()
        ))
    })?;
    let store_key = args
        .store_key
        .clone()
        .unwrap_or_else(|| with_suffix(&args.store, ".key"));
    // A device syncs before its first check, for the manifest: the store is made then.
    let mut store = open_store(&args.store, &store_key, true)?;
    // The key trusted before any rotation this sync learns signed the bundle kept so far.
    let trusted_before = receipt_key.clone();
    let mut client = SyncClient::try_new(config, receipt_key).map_err(sync_error)?;
    // A rotated receipt key is learnt first, only through rotations the trusted key signed,
    // and kept in place of the old one. Unreachable now: the sync below says so.
    match client.update_receipt_key() {
        Ok(Some(key)) => {
            let temporary = with_suffix(&key_path, ".new");
            std::fs::write(&temporary, key.spki_der())
                .and_then(|()| std::fs::rename(&temporary, &key_path))
                .map_err(|e| CliError::Io(format!("{}: {e}", key_path.display())))?;
            eprintln!(
                "the receiver rotated its receipt key to {} (signed by the key this device trusted); saved to {}",
                key.id_hex(),
                key_path.display()
            );
        }
        Ok(None) | Err(SyncError::Unreachable { .. }) => {}
        Err(error) => return Err(sync_error(error)),
    }
    // The receiver's TLS pins (the key served now and the next ones), taken only when the
    // receipt key trusted now signed them, so the operator can replace the TLS key without
    // enrolling this device again.
    let pins = match (&kept_pins, client.tls_pin_announcement()) {
        (Some(_), Some(announcement)) => {
            match announcement.verify(client.receipt_key(), announced_at, SystemClock.now().0) {
                Ok(announced) => {
                    keep_pins(
                        args,
                        &KeptPins {
                            issued_at: announced.issued_at,
                            pins: announced.pins.clone(),
                        },
                    )?;
                    Ok(Some(announced.pins))
                }
                // An older one: another instance's clock, or a replay that would bring back a
                // retired key. Either way the kept pins stay; the sync itself is fine.
                Err(PinAnnouncementError::Stale { kept, found }) => {
                    eprintln!(
                        "receiver TLS pins kept: the announcement served was signed at {found}, before the one kept ({kept}), so it is not taken"
                    );
                    Ok(None)
                }
                Err(refused) => Err(refused),
            }
        }
        _ => Ok(None),
    };
    // The bundle kept from the last sync (verified with the receipt key trusted now, or the one
    // a rotation just replaced): an older one from the receiver is refused.
    let kept = crate::trust_bundle_file::kept_serial(
        &args.store,
        &[client.receipt_key(), &trusted_before],
    );
    let report = client
        .sync(&mut store, &signer, &SystemClock, &mut SystemRandom)
        .map_err(sync_error)?;
    // While online, the manifest of the items this device carries, for the next checks.
    let manifest = client.fetch_manifest(&mut store, &signer, &SystemClock, &mut SystemRandom);
    // And the trust bundle (anchors, revocation lists), so the checks until the next sync
    // check revocation on the device.
    let bundle = client
        .fetch_trust_bundle(kept, &signer, &SystemClock, &mut SystemRandom)
        .and_then(|fetched| match fetched {
            FetchedTrustBundle::Verified { signed, verified } => {
                crate::trust_bundle_file::keep(&args.store, &signed)
                    .map_err(|e| SyncError::Protocol(e.to_string()))?;
                Ok(Some(verified))
            }
            FetchedTrustBundle::NoneLoaded => Ok(None),
        });
    let mut summary = serde_json::json!({
        "synced": report.synced,
        "duplicates": report.duplicates,
        "flagged_by_receiver": report.flagged,
        "requests": report.requests,
    });
    let manifest_line = match &manifest {
        Ok(manifest) => {
            summary["manifest_items"] = manifest.items().len().into();
            summary["manifest_expires_at"] = manifest.expires_at.into();
            format!(
                "item manifest: {} items for this device, valid until {} (Unix time)",
                manifest.items().len(),
                manifest.expires_at
            )
        }
        Err(e) => {
            summary["manifest_error"] = e.to_string().into();
            format!("item manifest not updated: {e}")
        }
    };
    let bundle_line = match &bundle {
        Ok(Some(verified)) => {
            summary["trust_bundle_serial"] = verified.serial.into();
            summary["trust_bundle_expires_at"] = verified.expires_at.into();
            format!(
                "trust bundle {}: {} anchors, {} revocation lists, valid until {} (Unix time)",
                verified.serial,
                verified.anchors().len(),
                verified.revocation_lists().len(),
                verified.expires_at
            )
        }
        Ok(None) => {
            "trust bundle: the receiver has none loaded; the one kept (if any) stays".into()
        }
        Err(e) => {
            summary["trust_bundle_error"] = e.to_string().into();
            format!("trust bundle not updated: {e}")
        }
    };
    let pins_line = match &pins {
        Ok(Some(pins)) => {
            summary["tls_pins"] = pins.iter().map(ToString::to_string).collect();
            format!(
                "\nreceiver TLS keys trusted: {}",
                pins.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Ok(None) => String::new(),
        Err(e) => {
            let refused = pins_refused(e, kept_pins.as_deref().unwrap_or_default());
            summary["tls_pins_error"] = refused.clone().into();
            format!("\nreceiver TLS pins not updated: {refused}")
        }
    };
    if json {
        crate::output::write_stdout(&format!("{summary}\n"))?;
    } else {
        crate::output::write_stdout(&format!(
            "synced {} records ({} already at the receiver, {} flagged by its verification) in {} requests\n{manifest_line}\n{bundle_line}{pins_line}\n",
            report.synced, report.duplicates, report.flagged, report.requests
        ))?;
    }
    // The records are synced either way; a manifest that failed still fails the command, so
    // a courier does not leave with yesterday's items.
    manifest.map_err(sync_error)?;
    // Likewise a trust bundle that did not verify: the device's revocation data is not current.
    bundle.map_err(sync_error)?;
    // And TLS pins that did not verify: the next TLS key is not trusted, say so now.
    pins.map_err(|e| {
        CliError::Environment(pins_refused(&e, kept_pins.as_deref().unwrap_or_default()))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// What a refused TLS pin announcement means for the courier and what to do: the pins kept
/// stay, and only a signature problem points at someone holding the receiver's TLS key.
fn pins_refused(error: &PinAnnouncementError, kept: &[SpkiPin]) -> String {
    let kept = kept
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let next = match error {
        PinAnnouncementError::BadSignature | PinAnnouncementError::BadPinCount(_) => {
            "whoever answered this sync may hold the receiver's TLS key: tell the receiver's operator, and do not enrol again with a pin you did not get from them"
        }
        PinAnnouncementError::UnknownFormat => "update honnin to read it",
        _ => "sync again later; tell the receiver's operator if this stays",
    };
    format!(
        "{error}; this device keeps trusting only the TLS keys it trusted before ({kept}): {next}"
    )
}
