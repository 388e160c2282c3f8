//! `honnin-receiver`: serve the receiver, and the operator's actions on its database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use honnin_core::check::Verifier;
use honnin_core::verify::x509::{ListSource, RevocationList, TrustAnchors};
use honnin_receiver::tls::ServerTls;
use honnin_receiver::{
    Limits, PostgresStorage, Receiver, SecretBox, SqliteStorage, Storage, fleet, now, operator_cli,
    routes,
};

#[derive(Parser)]
#[command(
    name = "honnin-receiver",
    version,
    about = "Receives proof records from devices and feeds them to senders"
)]
struct Cli {
    /// The receiver's SQLite database (created when missing).
    #[arg(long, global = true, default_value = "honnin-receiver.db")]
    db: PathBuf,
    /// A PostgreSQL database instead of --db (`postgres://user:password@host:port/name`, no
    /// TLS to it), which several receiver instances can share; tables are made when missing.
    /// Give it in the environment to keep the password out of the process list.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "HONNIN_RECEIVER_DATABASE",
        hide_env_values = true,
        conflicts_with = "db"
    )]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start and matched once: the size of `Serve`'s options costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the HTTPS API: with --tls-cert and --tls-key, or a self-signed certificate with
    /// --tls-self-signed <dir> (loopback, demos); plain HTTP only with --insecure-http on
    /// loopback.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8750")]
        listen: SocketAddr,
        #[command(flatten)]
        tls: TlsArgs,
        /// Serve plain HTTP (loopback addresses only: tests, or behind a TLS proxy on the
        /// same machine).
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key", "tls_self_signed"])]
        insecure_http: bool,
        /// Directory of trust anchors (JPKI roots) records are re-verified against, always,
        /// beside those of the newest `trust-load`.
        #[arg(long)]
        trust_anchors: PathBuf,
        /// A revocation list (X.509 CRL, DER) of a JPKI CA, for operators entitled to one;
        /// repeatable. Used beside the lists of the newest `trust-load` (taken up while
        /// serving); with neither, revocation is "not checked".
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// Directory of the phone issuers' IACA certificates: level-M (phone) records are
        /// re-verified under them and those of the newest `trust-load --mdoc-anchors`; with
        /// neither, such records are `unverified` and deliver nothing.
        #[arg(long)]
        mdoc_anchors: Option<PathBuf>,
        /// Where the operator console and /metrics are served (plain HTTP, loopback only: reach
        /// it through an SSH tunnel), once `honnin-receiver operator-token` made a token.
        #[arg(long, default_value = "127.0.0.1:8751")]
        operator_listen: SocketAddr,
        /// Most TLS connections served at once (more clients wait in the listen backlog).
        #[arg(long, default_value_t = Limits::default().max_connections)]
        max_connections: usize,
        /// Keep the receipt key and webhook secrets sealed in the database under the key in
        /// this file (made on first use, owner-only; every instance on one database needs the
        /// same file). Without it they are kept as they are.
        #[arg(long, value_name = "FILE")]
        secrets_key: Option<PathBuf>,
        /// While the secrets key is rotated: the old key file, so values still sealed under it
        /// open (see `rotate-secrets-key`).
        #[arg(long, value_name = "FILE", requires = "secrets_key")]
        previous_secrets_key: Option<PathBuf>,
        /// Let senders' webhooks point at loopback, private and link-local addresses (and plain
        /// http:// to loopback): only when every sender is trusted with the operator's own
        /// network, since the receiver pushes from inside it.
        #[arg(long)]
        allow_private_webhooks: bool,
        /// How far a device's request time may be from the receiver's clock, in seconds (a
        /// request's nonce is kept for twice that and more, so a replay is always caught).
        #[arg(long, default_value_t = Limits::default().max_clock_skew,
              value_parser = clap::value_parser!(i64).range(1..=86_400))]
        max_clock_skew: i64,
        /// Most undelivered items one sender may have on one device (a registration beyond it
        /// is refused whole); a device's manifest is shared evenly among its senders.
        #[arg(long, default_value_t = Limits::default().max_items_per_device as u64,
              value_parser = clap::value_parser!(u64).range(1..=honnin_core::manifest::MAX_ITEMS as u64))]
        max_items_per_device: u64,
        /// Failed authentications per client address and minute before its requests get 429
        /// (raise it for API fuzzing from one address; keep it low in production).
        #[arg(long, default_value_t = Limits::default().max_auth_failures)]
        max_auth_failures: u32,
        /// Warn (console, /metrics) of a trust-bundle revocation list this many hours before
        /// its nextUpdate, so a fresh one is loaded before devices refuse it.
        #[arg(long, default_value_t = Limits::default().crl_warning_seconds / 3600,
              value_parser = clap::value_parser!(i64).range(0..=8760))]
        crl_warning_hours: i64,
    },
    /// Issue a one-time enrolment code for a device (valid 24 h; printed once).
    EnrolCode {
        #[arg(long)]
        device: String,
        /// A sender whose feed gets this device's records even for items the sender did not
        /// register (repeatable). Without it, a record reaches a sender only for an item that
        /// sender registered for this device.
        #[arg(long = "sender")]
        senders: Vec<String>,
    },
    /// Register a sender and print its API token (printed once; only its hash is kept).
    AddSender {
        #[arg(long)]
        sender: String,
    },
    /// Load the trust anchors and revocation lists devices get in their signed trust bundle at
    /// each sync (replacing the ones loaded before; the bundle's serial goes up by one). For
    /// anchor rotation, load both generations side by side, later the new one alone.
    TrustLoad {
        /// Directory of trust anchors (JPKI roots, card-data issuers), as for serve.
        #[arg(long)]
        anchors: PathBuf,
        /// A revocation list (X.509 CRL, DER, with nextUpdate); repeatable.
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// Directory of the phone issuers' IACA certificates (as for serve --mdoc-anchors):
        /// devices that read v2 bundles trust them for level-M checks.
        #[arg(long)]
        mdoc_anchors: Option<PathBuf>,
    },
    /// The fleet: list devices, revoke a lost one, re-enrol a replacement.
    Devices {
        #[command(subcommand)]
        action: operator_cli::DevicesCommand,
    },
    /// The operator's audit log: export it, verify its hash chain.
    Audit {
        #[command(subcommand)]
        action: operator_cli::AuditCommand,
    },
    /// Make a new operator token for the console and `/metrics` (printed once; only its hash
    /// is kept, and the token before stops working).
    OperatorToken,
    /// Replace the receipt key: the old key signs the new one for devices (they follow it at
    /// their next sync), keeps verifying earlier receipts, and serving instances switch within
    /// seconds.
    RotateReceiptKey {
        /// The secrets key file the receipt key is sealed with, if any.
        #[arg(long, value_name = "FILE")]
        secrets_key: Option<PathBuf>,
    },
    /// Seal every kept secret under a new secrets key: run once every instance serves with
    /// `--secrets-key <new> --previous-secrets-key <old>`; the old key can go afterwards.
    RotateSecretsKey {
        /// The new key file (made when missing).
        #[arg(long, value_name = "FILE")]
        secrets_key: PathBuf,
        /// The key file the secrets are sealed with now.
        #[arg(long, value_name = "FILE")]
        previous_secrets_key: PathBuf,
    },
    /// Announce the next TLS key to devices that pin the TLS key: they get its pin, signed by
    /// the receipt key, at their next sync and accept it next to the key served now, so the
    /// certificate and key can then be replaced without enrolling any device again.
    AnnounceTlsKey {
        /// The next certificate (PEM or DER); its key's pin is announced.
        #[arg(long, value_name = "CERT", conflicts_with_all = ["pin", "clear"], required_unless_present_any = ["pin", "clear"])]
        cert: Option<PathBuf>,
        /// The next key's pin (sha256/<base64>), instead of --cert.
        #[arg(long, conflicts_with = "clear")]
        pin: Option<honnin_core::sync::SpkiPin>,
        /// Withdraw every announced next key.
        #[arg(long)]
        clear: bool,
    },
    /// Print the pin (sha256/<base64> of the key) of the receiver's TLS certificate, to hand
    /// to devices with their enrolment codes (`honnin enrol --receiver-pin`). With
    /// --tls-self-signed, the certificate is made if it is not there yet.
    TlsPin {
        #[command(flatten)]
        tls: TlsArgs,
    },
}

/// The receiver's TLS identity: a certificate and key, or a self-signed one in a directory.
#[derive(clap::Args)]
struct TlsArgs {
    /// The certificate chain (PEM, end entity first).
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A self-signed certificate for localhost, 127.0.0.1 and ::1, kept in DIR (cert.pem,
    /// key.pem); made on first use and reused after, so its pin stays the same.
    #[arg(long, value_name = "DIR")]
    tls_self_signed: Option<PathBuf>,
}

impl TlsArgs {
    /// The identity, or `None` when no TLS option is given.
    fn load(&self) -> Result<Option<ServerTls>, String> {
        let tls = match (&self.tls_cert, &self.tls_key, &self.tls_self_signed) {
            (Some(cert), Some(key), _) => ServerTls::from_pem_files(cert, key),
            (_, _, Some(dir)) => ServerTls::self_signed(dir),
            _ => return Ok(None),
        };
        tls.map(Some).map_err(|e| e.to_string())
    }
}

const NO_TRANSPORT: &str = "give --tls-cert and --tls-key, or --tls-self-signed <dir> (loopback and demos), or --insecure-http (loopback only)";

/// The secrets box of `--secrets-key` (and `--previous-secrets-key` while rotating).
fn secrets_box(
    key: Option<&std::path::Path>,
    previous: Option<&std::path::Path>,
) -> Result<SecretBox, String> {
    let Some(key) = key else {
        return Ok(SecretBox::Plain);
    };
    let secrets = SecretBox::from_key_file(key).map_err(|e| e.to_string())?;
    match previous {
        Some(previous) => secrets
            .with_previous(SecretBox::from_key_file(previous).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string()),
        None => Ok(secrets),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("honnin-receiver: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    // Needs no database: answer before one is opened (or made).
    if let Command::TlsPin { tls } = &cli.command {
        let tls = tls.load()?.ok_or(NO_TRANSPORT)?;
        println!("{}", tls.pin);
        return Ok(());
    }
    if let Command::Audit {
        action:
            operator_cli::AuditCommand::Verify {
                file: Some(path),
                head,
            },
    } = &cli.command
    {
        print!("{}", operator_cli::verify_export(path, head.as_deref())?);
        return Ok(());
    }
    let storage: Arc<dyn Storage> = match &cli.database {
        Some(url) => Arc::new(PostgresStorage::connect(url).map_err(|e| e.to_string())?),
        None => Arc::new(SqliteStorage::open(&cli.db).map_err(|e| e.to_string())?),
    };
    match cli.command {
        Command::EnrolCode { device, senders } => {
            let senders: Vec<&str> = senders.iter().map(String::as_str).collect();
            let actor = operator_cli::cli_actor();
            let code =
                fleet::issue_enrolment_code(storage.as_ref(), &actor, &device, &senders, now())
                    .map_err(|e| e.to_string())?;
            println!("{code}");
            Ok(())
        }
        Command::AddSender { sender } => {
            let actor = operator_cli::cli_actor();
            let token = fleet::add_sender(storage.as_ref(), &actor, &sender, now())
                .map_err(|e| e.to_string())?;
            println!("{token}");
            Ok(())
        }
        Command::TlsPin { .. } => Ok(()),
        Command::TrustLoad {
            anchors,
            crl,
            mdoc_anchors,
        } => {
            use honnin_receiver::trust_bundle as bundle;
            let (anchors, lists) =
                bundle::read_trust_files(&anchors, &crl).map_err(|e| e.to_string())?;
            let phones = match &mdoc_anchors {
                Some(dir) => bundle::read_mdoc_anchors(dir).map_err(|e| e.to_string())?,
                None => Vec::new(),
            };
            let (count, listed, phone_count) = (anchors.len(), lists.len(), phones.len());
            // A damaged kept bundle is refused by the load itself, with its own message.
            let dropped = match bundle::loaded(storage.as_ref()) {
                Ok(Some(before)) => bundle::lists_dropped(&before, &lists),
                _ => Vec::new(),
            };
            let actor = operator_cli::cli_actor();
            let serial =
                bundle::load_with_mdoc(storage.as_ref(), &actor, anchors, lists, phones, now())
                    .map_err(|e| e.to_string())?;
            println!(
                "trust bundle {serial}: {count} anchors, {listed} revocation lists, {phone_count} phone issuer anchors"
            );
            for issuer in dropped {
                eprintln!(
                    "honnin-receiver: warning: the bundle before had a revocation list of {issuer} and this one has none: devices and the receiver no longer check revocation of its cards against a list (load its current list with --crl)"
                );
            }
            Ok(())
        }
        Command::AnnounceTlsKey { cert, pin, clear } => {
            let actor = operator_cli::cli_actor();
            if clear {
                honnin_receiver::tls_pins::clear(storage.as_ref(), &actor, now())
                    .map_err(|e| e.to_string())?;
                println!("no next TLS key announced any more");
                return Ok(());
            }
            let pin = match (pin, cert) {
                (Some(pin), _) => pin,
                (None, Some(path)) => honnin_receiver::tls_pins::pin_of_certificate_file(&path)?,
                (None, None) => return Err("give --cert, --pin or --clear".into()),
            };
            let pins = honnin_receiver::tls_pins::announce(storage.as_ref(), pin, &actor, now())
                .map_err(|e| e.to_string())?;
            println!(
                "next TLS key {pin} announced ({} announced in all); devices that pin the TLS key take it at their next sync: replace the certificate and key once they have synced",
                pins.len()
            );
            Ok(())
        }
        Command::OperatorToken => {
            let token = honnin_receiver::console::new_operator_token(
                storage.as_ref(),
                &operator_cli::cli_actor(),
                now(),
            )
            .map_err(|e| e.to_string())?;
            println!("{token}");
            Ok(())
        }
        Command::RotateReceiptKey { secrets_key } => {
            let secrets = secrets_box(secrets_key.as_deref(), None)?;
            let rotation = honnin_receiver::rotation::rotate_receipt_key(
                storage.as_ref(),
                &secrets,
                &operator_cli::cli_actor(),
                now(),
            )
            .map_err(|e| e.to_string())?;
            println!(
                "receipt key rotated: new key {} (base64 DER), signed by the previous one; serving instances switch within {} s",
                rotation.rotation.new_key,
                honnin_receiver::rotation::RELOAD_SECONDS
            );
            Ok(())
        }
        Command::RotateSecretsKey {
            secrets_key,
            previous_secrets_key,
        } => {
            let secrets = secrets_box(Some(&secrets_key), Some(&previous_secrets_key))?;
            let resealed = honnin_receiver::rotation::reseal_all(
                storage.as_ref(),
                &secrets,
                &operator_cli::cli_actor(),
                now(),
            )
            .map_err(|e| e.to_string())?;
            println!(
                "{resealed} secrets sealed under {}; serve without --previous-secrets-key from now on",
                secrets_key.display()
            );
            Ok(())
        }
        Command::Devices { action } => {
            print!("{}", operator_cli::devices(storage.as_ref(), action)?);
            Ok(())
        }
        Command::Audit { action } => {
            print!("{}", operator_cli::audit(storage.as_ref(), action)?);
            Ok(())
        }
        Command::Serve {
            listen,
            operator_listen,
            tls,
            insecure_http,
            trust_anchors,
            crl,
            mdoc_anchors,
            max_connections,
            secrets_key,
            previous_secrets_key,
            allow_private_webhooks,
            max_clock_skew,
            max_items_per_device,
            max_auth_failures,
            crl_warning_hours,
        } => {
            // Check the transport before any work: no silent fall back to plain HTTP.
            let tls = tls.load()?;
            if tls.is_none() && !insecure_http {
                return Err(format!("serve: {NO_TRANSPORT}"));
            }
            if tls.is_none() && !listen.ip().is_loopback() {
                return Err(format!(
                    "--insecure-http serves plain HTTP on loopback addresses only, not on {listen}; use TLS"
                ));
            }
            if !operator_listen.ip().is_loopback() {
                return Err(format!(
                    "--operator-listen serves the console on loopback addresses only, not on {operator_listen}; reach it through an SSH tunnel"
                ));
            }
            let anchors = TrustAnchors::load_dir(&trust_anchors)
                .map_err(|e| format!("trust anchors in {}: {e}", trust_anchors.display()))?;
            let mut lists = Vec::new();
            for path in &crl {
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                // Named in each record's revocation check, beside the loaded bundle's lists.
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                lists.push(
                    RevocationList::from_der(&bytes)
                        .map_err(|e| format!("{}: {e}", path.display()))?
                        .delivered_by(ListSource {
                            name: format!("serve --crl {name}"),
                            expires_at: i64::MAX,
                        }),
                );
            }
            let mut verifier = Verifier::new(anchors).with_revocation_lists(lists);
            if let Some(dir) = &mdoc_anchors {
                let issuers = honnin_core::mdoc::IssuerAnchors::load_dir(dir)
                    .map_err(|e| format!("phone issuer anchors in {}: {e}", dir.display()))?;
                verifier = verifier.with_mdoc_anchors(issuers);
            }
            let secrets = secrets_box(secrets_key.as_deref(), previous_secrets_key.as_deref())?;
            let mut receiver =
                Receiver::with_secrets(storage, verifier, secrets).map_err(|e| e.to_string())?;
            receiver.limits.max_connections = max_connections;
            receiver.limits.allow_private_webhooks = allow_private_webhooks;
            receiver.limits.max_clock_skew = max_clock_skew;
            receiver.limits.max_auth_failures = max_auth_failures;
            receiver.limits.crl_warning_seconds = crl_warning_hours.saturating_mul(3600);
            // At most MAX_ITEMS (the parser's range), so it fits.
            receiver.limits.max_items_per_device =
                usize::try_from(max_items_per_device).unwrap_or(usize::MAX);
            // The loaded trust bundle, merged before the first batch so the console and
            // /metrics show it at once (each batch then looks for a newer load).
            receiver.verifier.for_batch(receiver.storage.as_ref());
            let receiver = Arc::new(receiver);
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
                let address = listener.local_addr().map_err(|e| e.to_string())?;
                // Webhook pushes run beside the API for as long as it serves.
                let console = honnin_receiver::console::has_operator_token(receiver.storage.as_ref())
                    .map_err(|e| e.to_string())?;
                if console {
                    let operator = tokio::net::TcpListener::bind(operator_listen)
                        .await
                        .map_err(|e| format!("cannot listen on {operator_listen}: {e}"))?;
                    eprintln!(
                        "honnin-receiver: operator console on http://{}",
                        operator.local_addr().map_err(|e| e.to_string())?
                    );
                    tokio::spawn(honnin_receiver::console::serve(operator, receiver.clone()));
                } else {
                    eprintln!(
                        "honnin-receiver: no operator console (make its token with `honnin-receiver operator-token`)"
                    );
                }
                // A rotated receipt key is taken up while serving.
                tokio::spawn(honnin_receiver::rotation::run_reloader(receiver.clone()));
                tokio::spawn(honnin_receiver::webhook::run_pusher(
                    receiver.clone(),
                    honnin_receiver::webhook::PushSettings::default(),
                ));
                let served = match &tls {
                    Some(tls) => {
                        eprintln!("honnin-receiver: TLS key pin {}", tls.pin);
                        // A renewed or rotated certificate and key are served without a restart.
                        tokio::spawn(honnin_receiver::tls_reload::run_reloader(
                            tls.live.clone(),
                            receiver.clone(),
                        ));
                        eprintln!("honnin-receiver: listening on https://{address}");
                        honnin_receiver::tls::serve(listener, receiver, tls).await
                    }
                    None => {
                        eprintln!("honnin-receiver: listening on http://{address} (plain HTTP)");
                        routes::serve(listener, receiver).await
                    }
                };
                served.map_err(|e| e.to_string())
            })
        }
    }
}
