//! What the `honnin` command's tests share: running `honnin`, and the set-up of the sync tests
//! — a device's files as `honnin` keeps them, a receiver in the test process over TLS with a
//! self-signed key, and a device enrolled with that key's pin.

// Each test binary uses its own part.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use honnin_e2e::records::{STORE_KEY, device_signer};
use honnin_e2e::verifier_with_crl;
use honnin_receiver::tls::ServerTls;
use honnin_receiver::{Receiver, SqliteStorage, Storage};

pub const BIN: &str = env!("CARGO_BIN_EXE_honnin");

/// Runs `honnin` with `args`, writing `stdin` (then closing it) as an operator's answers.
pub fn honnin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("honnin starts");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("writes stdin");
    }
    drop(input);
    child.wait_with_output().expect("honnin ends")
}

/// Writes a secret file as `honnin` expects it: readable by its owner only.
pub fn write_private(path: &Path, contents: &[u8]) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(contents))
        .expect("writes");
}

/// The store key file and the device key `honnin` finds beside a store at `store` (made by
/// the test with [`STORE_KEY`] and [`device_signer`]).
pub fn write_device_keys(store: &Path) {
    let mut key_file = store.as_os_str().to_owned();
    key_file.push(".key");
    write_private(
        Path::new(&key_file),
        format!("{}\n", hex::encode(STORE_KEY)).as_bytes(),
    );
    let pem = device_signer().to_pkcs8_pem().expect("pem");
    write_private(&store.with_file_name("device-key.pem"), pem.as_bytes());
}

/// A receiver in this process (SQLite in the test's directory), served over TLS on loopback.
/// Dropped, it stops with its runtime.
pub struct TlsReceiver {
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    pub tls: ServerTls,
    pub receiver: Arc<Receiver>,
    pub runtime: tokio::runtime::Runtime,
}

impl TlsReceiver {
    /// The receiver on `dir/receiver.db`, serving with a self-signed key made in `dir/tls`.
    pub fn self_signed(dir: &Path) -> Self {
        Self::start(dir, ServerTls::self_signed(&dir.join("tls")).expect("tls"))
    }

    /// The receiver on `dir/receiver.db`, serving with `tls`.
    pub fn start(dir: &Path, tls: ServerTls) -> Self {
        let storage: Arc<dyn Storage> =
            Arc::new(SqliteStorage::open(&dir.join("receiver.db")).expect("opens"));
        let receiver = Arc::new(Receiver::new(storage, verifier_with_crl()).expect("receiver"));
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binds");
        let url = format!("https://{}", listener.local_addr().expect("address"));
        let (served, shared) = (tls.clone(), receiver.clone());
        runtime.spawn(async move { honnin_receiver::tls::serve(listener, shared, &served).await });
        Self {
            url,
            tls,
            receiver,
            runtime,
        }
    }

    /// The pin devices enrol with.
    pub fn pin(&self) -> String {
        self.tls.pin.to_string()
    }

    pub fn storage(&self) -> &dyn Storage {
        self.receiver.storage.as_ref()
    }
}

/// Serves `app` over TLS with `tls` on a new loopback port, on `runtime`: its `https://` URL.
pub fn serve_tls(runtime: &tokio::runtime::Runtime, app: axum::Router, tls: &ServerTls) -> String {
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let url = format!("https://{}", listener.local_addr().expect("address"));
    let tls = tls.clone();
    let limits = honnin_receiver::Limits {
        max_connections: 64,
        ..honnin_receiver::Limits::default()
    };
    runtime
        .spawn(async move { honnin_receiver::tls::serve_app(listener, app, &tls, &limits).await });
    url
}

/// `honnin enrol` with the store `store` and the device arguments `device` (`--receiver`,
/// `--device` and how the receiver is trusted), given the operator's one-time `code`;
/// asserts it succeeded.
pub fn enrol(store: &Path, device: &[&str], code: &str) {
    let mut enrol = Command::new(BIN)
        .arg("enrol")
        .args(device)
        .args(["--stdin", "--store"])
        .arg(store)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("enrol starts");
    enrol
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{code}\n").as_bytes())
        .expect("code sent");
    let out = enrol.wait_with_output().expect("enrol ends");
    assert!(out.status.success(), "{out:?}");
}

/// [`enrol`] of `device` at `url`, trusting only the TLS key of `pin`.
pub fn enrol_pinned(store: &Path, url: &str, device: &str, pin: &str, code: &str) {
    let args = ["--receiver", url, "--device", device, "--receiver-pin", pin];
    enrol(store, &args, code);
}

/// `dir/<device>/records.db`, its directory made.
pub fn store_of(dir: &Path, device: &str) -> PathBuf {
    let store = dir.join(device).join("records.db");
    std::fs::create_dir_all(store.parent().expect("parent")).expect("dir");
    store
}
