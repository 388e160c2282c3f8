//! `honnin`: checks a My Number Card at a post-office counter or on a desktop, and runs the demo.

mod commands;
mod error;
mod face_art;
mod output;
mod reader_spec;
mod secrets;

use std::process::ExitCode;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use honnin_core::check::Level;

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
    Check {
        #[arg(long, default_value = "sim:genuine")]
        reader: ReaderSpec,
        #[arg(long, value_enum, default_value = "auto")]
        extended: ExtendedMode,
        /// A: 照合番号B and the courier's look; B: 4-digit PIN; C: signing password.
        #[arg(long)]
        level: Level,
        /// The parcel's item id.
        #[arg(long)]
        item: String,
        /// The sender's id.
        #[arg(long)]
        sender: String,
        /// This device's id (bound into the challenge).
        #[arg(long, default_value = "desktop")]
        device: String,
        /// The addressee's name as on the parcel.
        #[arg(long)]
        addressee: Option<String>,
        /// The addressee's address, compared when given.
        #[arg(long, requires = "addressee")]
        addressee_address: Option<String>,
        /// The addressee's birth date YYYY-MM-DD, compared when given.
        #[arg(long, requires = "addressee")]
        addressee_birth_date: Option<String>,
        /// Directory of trust anchors (JPKI roots, card-data issuers). Required with PC/SC.
        #[arg(long)]
        trust_anchors: Option<PathBuf>,
        /// A revocation list (X.509 CRL, DER) of a JPKI CA; repeatable. Without one,
        /// revocation is reported as not checked.
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// Read the secret (and the face confirmation) one per line from stdin.
        #[arg(long)]
        stdin: bool,
        /// Level A: the operator has compared face and name already (scripted use).
        #[arg(long)]
        face_confirmed: bool,
        /// Check as of this date (YYYY-MM-DD); only with the software card.
        #[arg(long)]
        check_time: Option<String>,
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
        Command::Check {
            reader,
            extended,
            level,
            item,
            sender,
            device,
            addressee,
            addressee_address,
            addressee_birth_date,
            trust_anchors,
            crl,
            stdin,
            face_confirmed,
            check_time,
            json,
        } => commands::check::run(&CheckArgs {
            reader,
            extended,
            level,
            item,
            sender,
            device,
            addressee,
            addressee_address,
            addressee_birth_date,
            trust_anchors,
            crl,
            stdin,
            face_confirmed,
            check_time,
            json,
        }),
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
