//! `honnin enrol` and `honnin sync`: the device side of store-and-forward. Enrolment registers the
//! device key with the receiver once (the operator's one-time code); sync sends every record not
//! yet acknowledged and marks each synced only on its verified receipt.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use honnin_core::record::DeviceKey;
use honnin_core::sync::{SyncClient, SyncConfig};
use honnin_core::verify::{SystemClock, SystemRandom};

use super::records::{load_device_key, open_store, with_suffix};
use crate::error::CliError;
use crate::secrets::SecretSource;

/// Where the device's store, keys and receiver are.
#[derive(clap::Args)]
pub struct DeviceArgs {
    /// The receiver's base URL, e.g. https://receiver.example or http://127.0.0.1:8750.
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
    /// A private CA certificate (DER) for the receiver's TLS.
    #[arg(long)]
    pub receiver_ca: Option<PathBuf>,
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

    fn config(&self) -> Result<SyncConfig, CliError> {
        let mut config = SyncConfig::new(&self.receiver, &self.device);
        if let Some(path) = &self.receiver_ca {
            config.ca_certificate_der = Some(
                std::fs::read(path)
                    .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?,
            );
        }
        Ok(config)
    }
}

fn sync_error(error: honnin_core::sync::SyncError) -> CliError {
    CliError::Environment(error.to_string())
}

pub fn enrol(args: &DeviceArgs) -> Result<ExitCode, CliError> {
    let signer = load_device_key(&args.device_key_path())?;
    let source = if args.stdin {
        SecretSource::Stdin
    } else {
        SecretSource::Terminal
    };
    let code = source.read("enrolment code from the receiver's operator")?;
    let receipt_key = SyncClient::enrol(&args.config()?, &code, &signer).map_err(sync_error)?;
    let path = args.receiver_key_path();
    std::fs::write(&path, receipt_key.spki_der())
        .map_err(|e| CliError::Io(format!("{}: {e}", path.display())))?;
    eprintln!(
        "enrolled device {} (key {}); receiver's receipt key saved to {}",
        args.device,
        signer.device_key().id_hex(),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_receipt_key(path: &Path) -> Result<DeviceKey, CliError> {
    let der = std::fs::read(path).map_err(|e| {
        CliError::Environment(format!(
            "{}: {e}; enrol this device first with `honnin enrol`",
            path.display()
        ))
    })?;
    DeviceKey::from_spki_der(&der)
        .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))
}

pub fn sync(args: &DeviceArgs, json: bool) -> Result<ExitCode, CliError> {
    let signer = load_device_key(&args.device_key_path())?;
    let receipt_key = read_receipt_key(&args.receiver_key_path())?;
    let store_key = args
        .store_key
        .clone()
        .unwrap_or_else(|| with_suffix(&args.store, ".key"));
    let mut store = open_store(&args.store, &store_key, false)?;
    let client = SyncClient::new(args.config()?, receipt_key);
    let report = client
        .sync(&mut store, &signer, &SystemClock, &mut SystemRandom)
        .map_err(sync_error)?;
    let summary = serde_json::json!({
        "synced": report.synced,
        "duplicates": report.duplicates,
        "flagged_by_receiver": report.flagged,
        "requests": report.requests,
    });
    if json {
        crate::output::write_stdout(&format!("{summary}\n"))?;
    } else {
        crate::output::write_stdout(&format!(
            "synced {} records ({} already at the receiver, {} flagged by its verification) in {} requests\n",
            report.synced, report.duplicates, report.flagged, report.requests
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
