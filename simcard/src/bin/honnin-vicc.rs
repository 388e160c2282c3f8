//! Puts the software card into pcscd's virtual reader, so that any PC/SC program can read it:
//!
//! ```text
//! cargo run -p honnin-simcard --bin honnin-vicc -- [PROFILE] [--addr HOST:PORT]
//! ```
//!
//! PROFILE is a software-card profile (default `genuine`; `--help` lists them). The card appears
//! in "Virtual PCD 00 00" (port 35963, the default) or "Virtual PCD 00 01" (port 35964) of a
//! pcscd that loaded vsmartcard's vpcd driver. Runs until interrupted; the card's PIN counters live
//! as long as the process.

use std::process::ExitCode;

use honnin_simcard::Profile;
use honnin_simcard::vpcd::{self, BridgeEvent, DEFAULT_VPCD_ADDR, VpcdConfig};

struct Args {
    profile: Profile,
    addr: String,
}

fn usage() -> String {
    let names: Vec<String> = Profile::all().iter().map(Profile::to_string).collect();
    format!(
        "usage: honnin-vicc [PROFILE] [--addr HOST:PORT]\n\
         PROFILE: {} (default genuine)\n\
         --addr: where pcscd's vpcd listens (default {DEFAULT_VPCD_ADDR}; 127.0.0.1:35964 for the \
         second virtual reader)",
        names.join(", ")
    )
}

/// `Ok(None)` for `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut profile = Profile::Genuine;
    let mut addr = DEFAULT_VPCD_ADDR.to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--addr" => {
                addr = args
                    .next()
                    .ok_or_else(|| format!("--addr needs HOST:PORT\n{}", usage()))?;
            }
            name => {
                profile = name.parse().map_err(|e| format!("{e}"))?;
            }
        }
    }
    Ok(Some(Args { profile, addr }))
}

fn log(event: &BridgeEvent) {
    match event {
        // vpcd polls presence several times a second; exchanges are the interesting part.
        BridgeEvent::Exchange {
            header,
            command_len,
            response_len,
            status,
        } => eprintln!(
            "honnin-vicc: {:02X} {:02X} {:02X} {:02X} ({command_len} bytes) -> {status:04X} \
             ({response_len} bytes)",
            header[0], header[1], header[2], header[3]
        ),
        other => eprintln!("honnin-vicc: {other:?}"),
    }
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let card = match args.profile.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("honnin-vicc: cannot build the {} card: {e}", args.profile);
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "honnin-vicc: serving the {} card to vpcd at {}",
        args.profile, args.addr
    );
    let handle = match vpcd::serve(card, VpcdConfig::new(args.addr).on_event(log)) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("honnin-vicc: {e}");
            return ExitCode::FAILURE;
        }
    };
    match handle.join() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("honnin-vicc: {e}");
            ExitCode::FAILURE
        }
    }
}
