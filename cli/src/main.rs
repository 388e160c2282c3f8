//! `honnin`: checks a My Number Card at a post-office counter or on a desktop, and runs the demo.

mod commands;
mod error;
mod reader_spec;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
