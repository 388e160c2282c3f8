//! `honnin-receiver`: serve the receiver, and the operator's actions on its database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use honnin_core::check::Verifier;
use honnin_core::verify::x509::{RevocationList, TrustAnchors};
use honnin_receiver::{Receiver, SqliteStorage, Storage, now, operator, routes};

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (plain HTTP on loopback; put it behind TLS for anything else).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8750")]
        listen: SocketAddr,
        /// Directory of trust anchors (JPKI roots) records are re-verified against.
        #[arg(long)]
        trust_anchors: PathBuf,
        /// A revocation list (X.509 CRL, DER) of a JPKI CA, for operators entitled to one;
        /// repeatable. Without one, revocation is "not checked".
        #[arg(long)]
        crl: Vec<PathBuf>,
    },
    /// Issue a one-time enrolment code for a device (valid 24 h; printed once).
    EnrolCode {
        #[arg(long)]
        device: String,
    },
    /// Register a sender and print its API token (printed once; only its hash is kept).
    AddSender {
        #[arg(long)]
        sender: String,
    },
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
    let storage = SqliteStorage::open(&cli.db).map_err(|e| e.to_string())?;
    match cli.command {
        Command::EnrolCode { device } => {
            let code = operator::issue_enrolment_code(&storage, &device, now())
                .map_err(|e| e.to_string())?;
            println!("{code}");
            Ok(())
        }
        Command::AddSender { sender } => {
            let token = operator::add_sender(&storage, &sender).map_err(|e| e.to_string())?;
            println!("{token}");
            Ok(())
        }
        Command::Serve {
            listen,
            trust_anchors,
            crl,
        } => {
            let anchors = TrustAnchors::load_dir(&trust_anchors)
                .map_err(|e| format!("trust anchors in {}: {e}", trust_anchors.display()))?;
            let mut lists = Vec::new();
            for path in &crl {
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                lists.push(
                    RevocationList::from_der(&bytes)
                        .map_err(|e| format!("{}: {e}", path.display()))?,
                );
            }
            let verifier = Verifier::new(anchors).with_revocation_lists(lists);
            let storage: Arc<dyn Storage> = Arc::new(storage);
            let receiver = Arc::new(Receiver::new(storage, verifier).map_err(|e| e.to_string())?);
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
                eprintln!(
                    "honnin-receiver: listening on http://{}",
                    listener.local_addr().map_err(|e| e.to_string())?
                );
                routes::serve(listener, receiver)
                    .await
                    .map_err(|e| e.to_string())
            })
        }
    }
}
