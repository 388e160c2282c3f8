//! `honnin console`: the counter console, a web page on this computer's loopback for the
//! post-office clerk.
//!
//! One process: an HTTP server (axum on a small tokio runtime) and one worker thread that owns
//! everything touching the card and the record store (PC/SC, the verifier, the signer). The
//! server only validates requests, hands commands to the worker and streams the shared
//! [`state::Console`] to the page by server-sent events. So a check goes on whatever the page
//! does: a reloaded page reads the current state from the first event it gets.
//!
//! - [`guard`]: who may talk to the console (loopback peers, our own Host and Origin, the
//!   per-start key as an HttpOnly SameSite=Strict cookie);
//! - [`routes`]: the page, its events and the few JSON requests it makes;
//! - [`state`]: what the page shows (readers, the check in progress, the verdict, the day's
//!   history) and which browser tab drives the console;
//! - [`worker`] and [`run_check`]: reader watching, one check per card or phone, records;
//! - [`images`]: the card's images re-encoded as PNG for the browser, a phone's portrait.
//!
//! A holder may show the card itself (levels A, B, C) or the card in their phone's wallet
//! (level M, ISO/IEC 18013-5): the phone's issuer anchors come from the trust bundle kept beside
//! the store and `--mdoc-anchors` (see [`crate::phone_trust`]). A console without any still
//! checks cards, and refuses level M saying how to configure it.

mod guard;
mod images;
mod routes;
mod run_check;
mod state;
mod worker;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use honnin_core::mdoc::PhoneVerifier;
use honnin_core::verify::{Clock, RandomSource, SystemClock, SystemRandom, UnixTime};

use crate::commands::records::{RecordArgs, Recorder};
use crate::error::CliError;
use crate::phone_trust::AnchorSources;
use crate::reader_spec::{ExtendedMode, ReaderSpec};

/// Everything `honnin console` is asked.
#[derive(clap::Args)]
pub struct ConsoleArgs {
    /// pcsc (the reader that holds a card) or pcsc:<reader name>.
    #[arg(long, default_value = "pcsc")]
    pub reader: ReaderSpec,
    #[arg(long, value_enum, default_value = "auto")]
    pub extended: ExtendedMode,
    /// This counter's device id (its records' chain, its item manifest).
    #[arg(long, default_value = "counter")]
    pub device: String,
    /// Directory of trust anchors (JPKI roots, card-data issuers).
    #[arg(long)]
    pub trust_anchors: PathBuf,
    #[arg(long)]
    pub crl: Vec<PathBuf>,
    /// Level M: directory of the phone issuers' IACA certificates, added to those of the trust
    /// bundle `honnin sync` keeps beside --store. Without either, phones are not checked.
    #[arg(long)]
    pub mdoc_anchors: Option<PathBuf>,
    /// Level M: which document to ask the phone for (jp-wallet-model, mdl).
    #[arg(long, default_value = "jp-wallet-model")]
    pub mdoc_profile: String,
    /// Where to listen: a loopback address only (default 127.0.0.1 on a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Do not open the page in the default browser (print its address only).
    #[arg(long)]
    pub no_open: bool,
    /// Every check's signed record goes to this store (--store is required).
    #[command(flatten)]
    pub record: RecordArgs,
}

/// What the worker needs beyond the shared state.
pub(crate) struct Settings {
    pub reader: Option<String>,
    pub extended: ExtendedMode,
    pub device: String,
}

pub fn run(args: &ConsoleArgs) -> Result<ExitCode, CliError> {
    let ReaderSpec::Pcsc(reader) = &args.reader else {
        return Err(CliError::Usage(
            "honnin console needs a PC/SC reader: --reader pcsc[:<name>]".into(),
        ));
    };
    if !args.listen.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "--listen {}: the console serves this computer only; give a loopback address such as 127.0.0.1:0",
            args.listen
        )));
    }
    if args.record.store.is_none() {
        return Err(CliError::Usage(
            "honnin console keeps a signed record of every check: give --store <file> (synced with honnin sync)"
                .into(),
        ));
    }
    // Everything that can be wrong with the configuration fails here, before the page opens.
    let verifier = crate::trust::load_verifier(&args.trust_anchors, &args.crl)?;
    let phone = phone_verifier(args)?;
    let mut recorder = Recorder::open(&args.record, &args.device)?
        .ok_or_else(|| CliError::Usage("--store is required".into()))?;
    recorder.set_station_counter();
    let history = todays_history(&recorder)?;

    let console = Arc::new(state::Console::new(reader.clone(), history));
    let settings = Settings {
        reader: reader.clone(),
        extended: args.extended,
        device: args.device.clone(),
    };
    let commands = worker::start(console.clone(), settings, (verifier, phone), recorder)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Environment(format!("cannot start the web server: {e}")))?;
    runtime.block_on(serve(args, console, commands))
}

async fn serve(
    args: &ConsoleArgs,
    console: Arc<state::Console>,
    commands: worker::Commands,
) -> Result<ExitCode, CliError> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Environment(format!("cannot listen on {}: {e}", args.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|e| CliError::Environment(format!("cannot read the listening address: {e}")))?;
    let key = fresh_key();
    let guard = guard::Guard::new(&key, address.port());
    let url = format!(
        "http://{}:{}/?key={key}",
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        address.port()
    );
    // The address with its key goes to the clerk's terminal only: never to a log.
    println!("honnin console: open {url}");
    eprintln!(
        "honnin console: serving 127.0.0.1:{} for this computer only; Ctrl-C ends it",
        address.port()
    );
    if !args.no_open {
        open_browser(&url);
    }
    let app = routes::router(console, commands, guard);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| CliError::Environment(format!("the web server stopped: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// The phone check, or why there is none (said on the terminal now, and to the clerk who picks
/// level M). A broken anchor directory or an unknown profile stops the console: that is a
/// configuration to fix, not a phone to refuse.
fn phone_verifier(args: &ConsoleArgs) -> Result<Result<PhoneVerifier, state::Message>, CliError> {
    let profile = crate::phone_trust::profile(&args.mdoc_profile)?;
    let sources = AnchorSources {
        store: args.record.store.as_deref(),
        mdoc_anchors: args.mdoc_anchors.as_deref(),
        simulated: false,
    };
    let anchors = crate::phone_trust::issuer_anchors(&sources)?;
    match anchors {
        Some(anchors) if !anchors.is_empty() => {
            eprintln!(
                "honnin console: phones (level M) are checked against {} issuer anchors",
                anchors.len()
            );
            Ok(Ok(PhoneVerifier::new(anchors, profile)))
        }
        // No anchors at all: every phone would be "unknown issuer", i.e. named forged. Refuse
        // level M instead, saying what is missing.
        _ => {
            eprintln!(
                "honnin console: phones (level M) cannot be checked: {}",
                crate::phone_trust::ANCHORS_REQUIRED
            );
            Ok(Err(state::Message::new(
                "phone_not_configured",
                "This console has no phone issuer anchors, so it cannot check a phone (level M): check the card itself, or restart the console with --mdoc-anchors <dir> (or after honnin sync brings them).",
                "この窓口にはスマートフォンの発行者証明書が設定されていないため、スマートフォン（レベルM）は確認できません。カードそのもので確認するか、--mdoc-anchors を指定して（または honnin sync の後に）窓口画面を起動し直してください。",
            )))
        }
    }
}

/// The records of today (midnight to midnight in Japan, +09:00) for the page's history.
fn todays_history(recorder: &Recorder) -> Result<Vec<state::HistoryRow>, CliError> {
    const JST: i64 = 9 * 3600;
    let now = SystemClock.now().0;
    let midnight = now - (now + JST).rem_euclid(86_400);
    Ok(recorder
        .records_since(UnixTime(midnight))?
        .into_iter()
        .map(|r| state::HistoryRow {
            time: r.time.0,
            item: r.item,
            level: r.level,
            verdict: r.verdict,
            seq: r.seq,
        })
        .collect())
}

/// The per-start key: 32 random bytes, hex.
fn fresh_key() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom.fill(&mut bytes);
    hex::encode(bytes)
}

/// Opens the page in the desktop's browser, where there is one. The key must not appear in a
/// command line (other local users can list processes), so the browser is given a file only
/// this user can read that forwards to the address.
fn open_browser(url: &str) {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return;
    }
    let Ok(dir) = tempfile::Builder::new().prefix("honnin-console-").tempdir() else {
        return;
    };
    let path = dir.path().join("open.html");
    let page = format!(
        "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url={url}\"><title>honnin</title>"
    );
    if std::fs::write(&path, page).is_err() {
        return;
    }
    let opened = std::process::Command::new("xdg-open")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if opened {
        // The browser reads the file after xdg-open returns: leave it (mode 0700 directory).
        let _ = dir.keep();
    }
}
