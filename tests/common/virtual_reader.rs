//! A software card in a real PC/SC reader: pcscd (started if needed) with vsmartcard's vpcd,
//! and the vpcd bridge serving the card from inside the test process.
//!
//! Tests that need pcscd call [`virtual_reader`]. When pcscd cannot be had:
//! - with `CI` set, the test fails (CI must run these; `scripts/setup` installs the packages and
//!   `scripts/start-pcscd` starts the daemon);
//! - otherwise it prints why and passes without running, so `cargo test` works on a machine
//!   without pcscd.
//!
//! One vpcd port takes one virtual card at a time, and other test processes (other crates'
//! tests, another engineer's run) may want it too, so the reader is held under an exclusive file
//! lock for as long as the [`VirtualReader`] lives.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use honnin_pcsc::{CardPresence, Pcsc};
use honnin_simcard::vpcd::{
    self, BridgeEvent, CONTACTLESS_PHONE_ATR, DEFAULT_VPCD_ADDR, MY_NUMBER_CARD_ATR, VirtualCard,
    VpcdConfig, VpcdHandle,
};

/// How long to wait for pcscd to start, for the virtual reader to appear, and for the card to
/// show up in it (or leave it). Each wait ends as soon as it holds; the bound only has to
/// outlast a loaded CI machine, where pcscd's polling can fall seconds behind.
const STARTUP: Duration = Duration::from_secs(60);

/// The software card, inserted in a vpcd reader that pcscd serves.
pub struct VirtualReader<C> {
    handle: Option<VpcdHandle<C>>,
    /// PC/SC's name of the reader holding the card.
    pub reader: String,
    /// A PC/SC context held while the card is in: a pcscd started with `--auto-exit` (see
    /// [`start_pcscd`]) then cannot exit in the middle of a test.
    _pcscd_client: Pcsc,
    _lock: File,
}

impl<C> VirtualReader<C> {
    pub fn handle(&self) -> &VpcdHandle<C> {
        self.handle.as_ref().expect("the bridge runs until stop")
    }

    /// Takes the card out of the reader and hands it back (with its log of commands).
    pub fn stop(mut self) -> C {
        let card = self
            .handle
            .take()
            .expect("the bridge runs until stop")
            .stop()
            .expect("the bridge thread ends cleanly");
        wait_until_gone(&self.reader);
        card
    }
}

impl<C> Drop for VirtualReader<C> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = handle.stop();
            wait_until_gone(&self.reader);
        }
    }
}

/// Waits until pcscd has noticed that the card left, so that the next test does not see it
/// (pcscd polls vpcd a few times a second).
fn wait_until_gone(reader: &str) {
    if let Ok(pcsc) = Pcsc::establish() {
        let _ = pcsc.wait_for_removal(reader, STARTUP);
    }
}

/// Inserts `card` into the first vpcd reader, or returns `None` (after saying why) when pcscd is
/// not available and `CI` is not set.
pub fn virtual_reader<C>(card: C) -> Option<VirtualReader<C>>
where
    C: VirtualCard + Send + 'static,
{
    virtual_reader_with_atr(card, &MY_NUMBER_CARD_ATR)
}

/// The software phone in the first vpcd reader, showing the pseudo-ATR a contactless reader
/// gives an ISO 14443-4 phone; `None` as for [`virtual_reader`].
pub fn virtual_phone_reader<C>(phone: C) -> Option<VirtualReader<C>>
where
    C: VirtualCard + Send + 'static,
{
    virtual_reader_with_atr(phone, &CONTACTLESS_PHONE_ATR)
}

/// [`virtual_reader`] with another ATR; the reader is found by it.
pub fn virtual_reader_with_atr<C>(card: C, atr: &[u8]) -> Option<VirtualReader<C>>
where
    C: VirtualCard + Send + 'static,
{
    let lock = lock_vpcd_port();
    let pcscd_client = match hold_pcscd() {
        Ok(client) => client,
        Err(reason) => {
            if in_ci() {
                panic!("pcscd with the vsmartcard virtual reader is required in CI: {reason}");
            }
            eprintln!("SKIPPED (no pcscd; set CI=1 to make this a failure): {reason}");
            return None;
        }
    };
    let config = VpcdConfig::new(DEFAULT_VPCD_ADDR)
        .with_atr(atr)
        .with_retry_interval(Duration::from_millis(100))
        .on_event(|e| {
            if !matches!(e, BridgeEvent::Exchange { .. }) {
                eprintln!("vicc: {e:?}");
            }
        });
    let handle = vpcd::serve(card, config).expect("the vpcd bridge starts");
    let reader = match wait_for_our_card(atr) {
        Ok(reader) => reader,
        Err(reason) => {
            let _ = handle.stop();
            panic!("{reason}");
        }
    };
    Some(VirtualReader {
        handle: Some(handle),
        reader,
        _pcscd_client: pcscd_client,
        _lock: lock,
    })
}

/// `CI` set to anything but empty, `0` or `false`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

fn lock_vpcd_port() -> File {
    let path = std::env::temp_dir().join("honnin-vpcd-35963.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open lock file {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
    file
}

/// Makes sure pcscd runs with a vpcd reader and returns a context that keeps it from
/// auto-exiting. A pcscd about to auto-exit may still answer [`ensure_pcscd`] and then go, so
/// the reader is looked up again through the held context, and pcscd started again once if it
/// went in between.
fn hold_pcscd() -> Result<Pcsc, String> {
    let mut last_error = String::new();
    for _ in 0..2 {
        ensure_pcscd()?;
        match Pcsc::establish()
            .map_err(|e| e.to_string())
            .and_then(|client| {
                let readers = client.list_readers().map_err(|e| e.to_string())?;
                if readers.iter().any(|r| r.starts_with("Virtual PCD")) {
                    Ok(client)
                } else {
                    Err("pcscd shows no \"Virtual PCD\" reader".to_owned())
                }
            }) {
            Ok(client) => return Ok(client),
            Err(e) => last_error = e,
        }
    }
    Err(format!(
        "pcscd went away while the test connected: {last_error}"
    ))
}

/// Makes sure pcscd runs and shows a vpcd reader, starting pcscd if it does not run.
fn ensure_pcscd() -> Result<(), String> {
    if vpcd_readers().is_ok_and(|r| !r.is_empty()) {
        return Ok(());
    }
    if Pcsc::establish().is_err() {
        start_pcscd()?;
    }
    let deadline = Instant::now() + STARTUP;
    loop {
        match vpcd_readers() {
            Ok(readers) if !readers.is_empty() => return Ok(()),
            Ok(_) if Instant::now() >= deadline => {
                return Err(format!(
                    "pcscd runs but shows no \"Virtual PCD\" reader within {STARTUP:?}; is \
                     vsmartcard-vpcd installed (/etc/reader.conf.d/vpcd), and was pcscd started \
                     after it? Restart pcscd."
                ));
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("pcscd did not come up within {STARTUP:?}: {e}"));
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Starts our own pcscd in the foreground as a child that outlives the test; `--auto-exit` ends
/// it a minute after its last client leaves, so a local run leaves nothing behind.
fn start_pcscd() -> Result<(), String> {
    let log_path: PathBuf = std::env::temp_dir().join("honnin-test-pcscd.log");
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    Command::new("pcscd")
        .args(["--foreground", "--auto-exit"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map(drop)
        .map_err(|e| {
            format!(
                "cannot start pcscd ({e}); install pcscd and vsmartcard-vpcd (scripts/setup) or \
                 start it yourself (scripts/start-pcscd)"
            )
        })
}

fn vpcd_readers() -> Result<Vec<String>, String> {
    let pcsc = Pcsc::establish().map_err(|e| e.to_string())?;
    let readers = pcsc.list_readers().map_err(|e| e.to_string())?;
    Ok(readers
        .into_iter()
        .filter(|r| r.starts_with("Virtual PCD"))
        .collect())
}

/// The vpcd reader of the first port (where the bridge connects), once it shows our card or
/// phone (by its ATR). Only that reader counts: a card or phone that some other program put in
/// the second reader ("Virtual PCD 00 01", e.g. a `honnin-vicc --addr 127.0.0.1:35964` left
/// running) may show the same ATR, and must not be taken for ours.
fn wait_for_our_card(atr: &[u8]) -> Result<String, String> {
    let pcsc = Pcsc::establish().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + STARTUP;
    loop {
        let mut states: Vec<_> = pcsc
            .reader_states()
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|r| r.name.starts_with("Virtual PCD"))
            .collect();
        states.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(first) = states.into_iter().next()
            && matches!(&first.card, CardPresence::Present { atr: shown } if shown == atr)
        {
            return Ok(first.name);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the software card did not appear in a vpcd reader within {STARTUP:?} (is another \
                 virtual card connected to {DEFAULT_VPCD_ADDR}?)"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
