//! The desktop's files of a record store: the store key file, the device key file, and the
//! [`Recorder`] that `honnin check --store` uses. Secret files are made with mode 0600, never
//! replaced, and refused when group or others can read them (as ssh does).

use std::io::Write;
use std::path::{Path, PathBuf};

use honnin_core::check::{CheckRequest, DoorCheckReport};
use honnin_core::manifest::ItemPolicy;
use honnin_core::record::{
    AttributePolicy, DeviceKey, RecordContext, RecordDraft, SoftwareSigner, Station,
};
use honnin_core::store::{KeyError, KeyProvider, Store, StoreError, StoreKey};
use honnin_core::verify::{Clock, SystemClock, SystemRandom, UnixTime};
use zeroize::Zeroizing;

use super::RecordArgs;
use crate::error::CliError;
use crate::output::RecordLine;

pub(super) fn default_store() -> Result<PathBuf, CliError> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .ok_or_else(|| {
            CliError::Usage("no --store given, and no HOME to find the default store".into())
        })?;
    Ok(base.join("honnin").join("records.db"))
}

pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_os_string();
    text.push(suffix);
    PathBuf::from(text)
}

/// The receiver's receipt key kept at enrolment (`<store>.receiver-key`, DER
/// SubjectPublicKeyInfo). `Ok(None)`: the file is not there (the device is not enrolled).
pub(crate) fn read_receipt_key(path: &Path) -> Result<Option<DeviceKey>, CliError> {
    let der = match std::fs::read(path) {
        Ok(der) => der,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CliError::Environment(format!("{}: {e}", path.display()))),
    };
    DeviceKey::from_spki_der(&der)
        .map(Some)
        .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))
}

/// A store key kept in a file of 64 hex digits.
pub(super) struct KeyFile {
    pub(super) path: PathBuf,
}

impl KeyProvider for KeyFile {
    fn store_key(&self) -> Result<StoreKey, KeyError> {
        let shown = self.path.display().to_string();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyError::Missing {
                    detail: format!("no key file {shown} (a store cannot be read without its key)"),
                });
            }
            Err(e) => {
                return Err(KeyError::Unavailable {
                    detail: format!("{shown}: {e}"),
                });
            }
        };
        check_private(&self.path).map_err(|detail| KeyError::Unavailable { detail })?;
        let bytes = Zeroizing::new(hex::decode(text.trim()).unwrap_or_default());
        StoreKey::from_slice(&bytes).ok_or_else(|| KeyError::Malformed {
            detail: format!("{shown} does not hold 64 hex digits"),
        })
    }
}

/// Writes a new secret file readable by its owner only; never replaces one.
pub(super) fn create_private(path: &Path, contents: &[u8]) -> Result<(), CliError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| CliError::Io(format!("{}: {e}", parent.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| CliError::Io(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Refuses a secret file that group or others can read.
fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} is readable by others (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            ));
        }
    }
    let _ = path;
    Ok(())
}

pub(super) fn store_error(error: StoreError) -> CliError {
    match error {
        StoreError::NotFound { .. } | StoreError::AlreadyExists { .. } => {
            CliError::Usage(error.to_string())
        }
        StoreError::Key(_) | StoreError::WrongKey | StoreError::Busy => {
            CliError::Environment(error.to_string())
        }
        _ => CliError::Io(error.to_string()),
    }
}

/// Opens the store of `args`, creating it and its key file when neither exists yet.
pub(crate) fn open_store(store: &Path, key: &Path, create: bool) -> Result<Store, CliError> {
    let keys = KeyFile {
        path: key.to_owned(),
    };
    if create && !store.exists() {
        if !key.exists() {
            let fresh = StoreKey::generate(&mut SystemRandom);
            let text = Zeroizing::new(format!("{}\n", hex::encode(fresh.expose())));
            create_private(key, text.as_bytes())?;
        }
        if let Some(parent) = store.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| CliError::Io(format!("{}: {e}", parent.display())))?;
        }
        let created = Store::open_or_create(store, &keys).map_err(store_error)?;
        // Sealed or not, the records are nobody else's business; SQLite gives the -wal and
        // -shm files the same mode.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(store, std::fs::Permissions::from_mode(0o600));
        }
        return Ok(created);
    }
    Store::open(store, &keys).map_err(store_error)
}

pub(crate) fn load_device_key(path: &Path) -> Result<SoftwareSigner, CliError> {
    if !path.exists() {
        let signer = SoftwareSigner::generate(&mut SystemRandom);
        let pem = signer
            .to_pkcs8_pem()
            .map_err(|e| CliError::Io(e.to_string()))?;
        create_private(path, pem.as_bytes())?;
        return Ok(signer);
    }
    check_private(path).map_err(CliError::Environment)?;
    let pem = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?,
    );
    SoftwareSigner::from_pkcs8_pem(&pem)
        .map_err(|e| CliError::Environment(format!("device key {}: {e}", path.display())))
}

/// The open store and device key of one `honnin check --store`.
pub struct Recorder {
    store: Store,
    signer: SoftwareSigner,
    courier: String,
    policy: AttributePolicy,
    station: Station,
}

/// A record of the store, as the counter console's history lists it.
pub struct RecentRecord {
    pub seq: u64,
    pub time: UnixTime,
    pub item: String,
    pub level: honnin_core::check::Level,
    pub verdict: honnin_core::check::Verdict,
}

impl Recorder {
    /// Opens (or makes) the store and the device key before the card is touched, so a
    /// misconfigured store never costs a PIN try. `None` without --store.
    pub fn open(args: &RecordArgs, device_id: &str) -> Result<Option<Recorder>, CliError> {
        let Some(path) = &args.store else {
            return Ok(None);
        };
        let key = args
            .store_key
            .clone()
            .unwrap_or_else(|| with_suffix(path, ".key"));
        let device_key = args
            .device_key
            .clone()
            .unwrap_or_else(|| path.with_file_name("device-key.pem"));
        let signer = load_device_key(&device_key)?;
        let store = open_store(path, &key, true)?;
        if let Some(bound) = store.device().map_err(store_error)?
            && (bound.device_id != device_id || &bound.key != signer.device_key())
        {
            return Err(CliError::Usage(format!(
                "{} belongs to device {:?} with key {}; this check is device {device_id:?} with key {}: use that device's --device and --device-key, or another --store",
                path.display(),
                bound.device_id,
                bound.key.id_hex(),
                signer.device_key().id_hex(),
            )));
        }
        let courier = args.courier.clone().unwrap_or_else(login_name);
        Ok(Some(Recorder {
            store,
            signer,
            courier,
            policy: args.record_attributes,
            station: Station::Door,
        }))
    }

    /// The sender's policy for `item_id`, from the manifest `honnin sync` kept in the store,
    /// verified now with the receiver's receipt key (`<store>.receiver-key`, written at
    /// enrolment). `None`: the device is not enrolled, has no manifest, or the item is not in
    /// it. A manifest that expired or does not verify is an error: the courier must know the
    /// policy is not there.
    pub fn item_policy(
        &self,
        device_id: &str,
        item_id: &str,
    ) -> Result<Option<ItemPolicy>, CliError> {
        let key_path = with_suffix(self.store.path(), ".receiver-key");
        let Some(receiver_key) = read_receipt_key(&key_path)? else {
            return Ok(None);
        };
        let manifest = self
            .store
            .manifest(&receiver_key, device_id, SystemClock.now())
            .map_err(|e| {
                CliError::Environment(format!(
                    "the item manifest cannot be used ({e}); run `honnin sync` while online, or give --sender and --addressee"
                ))
            })?;
        Ok(manifest.and_then(|m| m.item(item_id).cloned()))
    }

    /// The attributes the record keeps (the sender's policy when the manifest has it).
    pub fn set_attribute_policy(&mut self, policy: AttributePolicy) {
        self.policy = policy;
    }

    /// Records from now on say they were made at a post-office counter (`honnin console`).
    pub fn set_station_counter(&mut self) {
        self.station = Station::Counter;
    }

    /// The records made since `since`, oldest first (at most the last 500: a counter's day).
    pub fn records_since(&self, since: UnixTime) -> Result<Vec<RecentRecord>, CliError> {
        let info = self.store.info().map_err(store_error)?;
        let Some(last) = info.last else {
            return Ok(Vec::new());
        };
        let rows = self
            .store
            .list(last.saturating_sub(499).max(1), 500)
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .filter(|row| row.recorded_at.0 >= since.0)
            .filter_map(|row| {
                let record = row.record.ok()?;
                let body = record.body();
                Some(RecentRecord {
                    seq: row.position,
                    time: body.time(),
                    item: body.item_id().to_owned(),
                    level: body.level(),
                    verdict: body.verdict(),
                })
            })
            .collect())
    }

    /// Signs and stores the check's record; returns once it is on disk.
    pub fn record(
        &mut self,
        report: &DoorCheckReport,
        request: &CheckRequest,
        time: UnixTime,
    ) -> Result<RecordLine, CliError> {
        let context = RecordContext {
            courier_id: self.courier.clone(),
            time,
            policy: self.policy,
        };
        let draft = RecordDraft::from_check(report, request, &context)
            .map_err(|e| CliError::Usage(format!("record not stored: {e}")))?
            .at_station(self.station);
        let appended = self
            .store
            .append(draft, &self.signer)
            .map_err(|e| store_error(e).prefixed("record not stored: "))?;
        Ok(RecordLine {
            seq: appended.seq,
            id: appended.record_id,
            store: self.store.path().display().to_string(),
        })
    }
}

fn login_name() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "operator".into())
}

trait Prefixed {
    fn prefixed(self, prefix: &str) -> Self;
}

impl Prefixed for CliError {
    fn prefixed(self, prefix: &str) -> Self {
        match self {
            CliError::Usage(m) => CliError::Usage(format!("{prefix}{m}")),
            CliError::Environment(m) => CliError::Environment(format!("{prefix}{m}")),
            CliError::Card(m) => CliError::Card(format!("{prefix}{m}")),
            CliError::Io(m) => CliError::Io(format!("{prefix}{m}")),
        }
    }
}
