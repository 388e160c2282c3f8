//! `honnin`: checks a My Number Card at a post-office counter or on a desktop, and runs the demo.

mod commands;
mod console;
mod error;
mod face_art;
mod output;
mod phone_trust;
mod reader_spec;
mod secrets;
mod trust;
mod trust_bundle_file;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::check::CheckArgs;
use crate::reader_spec::{ExtendedMode, ReaderSpec};

#[derive(Parser)]
#[command(
    name = "honnin",
    version,
    about = "Check that the person taking a parcel is the addressee, by their My Number Card"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Read what a card shows without any PIN (certificates, CV certificates, tries left) and
    /// print it with the APDU count and bytes of every step. Spends no PIN try.
    Read {
        /// sim:<profile> for the built-in software card, or pcsc[:<reader name>].
        #[arg(long, default_value = "sim:genuine")]
        reader: ReaderSpec,
        /// Extended-length APDUs: auto (transport decides), on, off.
        #[arg(long, value_enum, default_value = "auto")]
        extended: ExtendedMode,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check one card: is it genuine, and is its holder the addressee? Exit code 0 genuine,
    /// 1 forged, 2 inconclusive / refused / not the addressee, 64+ usage or environment errors.
    Check(CheckArgs),
    /// The post-office counter: check card after card on a PC/SC reader.
    Counter(commands::counter::CounterArgs),
    /// The counter console: a web page on this computer for the post-office clerk (item number,
    /// level, secret, the card's photo and name large, the verdict, the day's history); every
    /// check is recorded as the counter's. Prints the page's address with its one-time key.
    Console(console::ConsoleArgs),
    /// Proof records in the device's store: list, show, verify-chain, export, purge.
    #[command(subcommand)]
    Records(commands::records::RecordsCommand),
    /// Re-verify a proof record (or an entry of the receiver's feed) as a sender: device
    /// signature, certificate chain, challenge bound to the item, card signature. Exit code 0
    /// verified, 1 a check failed, 64+ usage or input errors.
    VerifyRecord(commands::verify_record::VerifyRecordArgs),
    /// Register this device's key with a receiver (the operator's one-time code).
    Enrol(commands::sync::DeviceArgs),
    /// Send every record not yet acknowledged to the receiver.
    Sync {
        #[command(flatten)]
        device: commands::sync::DeviceArgs,
        /// Records per request.
        #[arg(long, default_value_t = 100)]
        batch_size: usize,
        #[arg(long)]
        json: bool,
    },
    /// List the software card's profiles (for --reader sim:<profile>).
    Profiles,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Read {
            reader,
            extended,
            json,
        } => commands::read::run(&reader, extended, json),
        Command::Check(args) => commands::check::run(&args),
        Command::Counter(args) => commands::counter::run(&args),
        Command::Console(args) => console::run(&args),
        Command::VerifyRecord(args) => commands::verify_record::run(&args),
        Command::Records(command) => commands::records::run(&command),
        Command::Enrol(args) => commands::sync::enrol(&args),
        Command::Sync {
            device,
            batch_size,
            json,
        } => commands::sync::sync(&device, batch_size, json),
        Command::Profiles => {
            for profile in honnin_simcard::Profile::all() {
                println!("{}", profile.name());
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("honnin: {error}");
        error.exit_code()
    })
}
