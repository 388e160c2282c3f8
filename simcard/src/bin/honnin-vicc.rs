//! Puts the software card, or the software phone, into pcscd's virtual reader, so that any PC/SC
//! program can read it:
//!
//! ```text
//! cargo run -p honnin-simcard --bin honnin-vicc -- [PROFILE] [--addr HOST:PORT]
//! ```
//!
//! PROFILE is a software-card profile (default `genuine`) or a software-phone profile
//! (`mdoc-genuine`, `mdoc-clone`, …); `--help` lists them. The card appears in "Virtual PCD 00 00"
//! (port 35963, the default) or "Virtual PCD 00 01" (port 35964) of a pcscd that loaded
//! vsmartcard's vpcd driver, with the My Number Card's ATR; a phone with the pseudo-ATR a
//! contactless reader shows for an ISO 14443-4 device. Runs until interrupted; the card's PIN
//! counters live as long as the process. For a phone, the text of the QR code it would show
//! (its `mdoc:` engagement) is printed on stdout as `qr: mdoc:…`, for a reader that engages
//! by QR code (the counter console's QR field).

use std::process::ExitCode;

use honnin_simcard::Profile;
use honnin_simcard::mdoc::PhoneProfile;
use honnin_simcard::vpcd::{
    self, BridgeEvent, CONTACTLESS_PHONE_ATR, DEFAULT_VPCD_ADDR, MY_NUMBER_CARD_ATR, VirtualCard,
    VpcdConfig,
};

/// What to put in the reader.
enum Credential {
    Card(Profile),
    Phone(PhoneProfile),
}

impl Credential {
    fn name(&self) -> String {
        match self {
            Credential::Card(p) => format!("{p} card"),
            Credential::Phone(p) => format!("{} phone", p.name()),
        }
    }

    fn atr(&self) -> &'static [u8] {
        match self {
            Credential::Card(_) => &MY_NUMBER_CARD_ATR,
            Credential::Phone(_) => &CONTACTLESS_PHONE_ATR,
        }
    }

    /// The credential, and a phone's QR code text.
    fn build(
        &self,
    ) -> Result<(Box<dyn VirtualCard + Send>, Option<String>), honnin_simcard::SimError> {
        Ok(match self {
            Credential::Card(p) => (Box::new(p.build()?), None),
            Credential::Phone(p) => {
                let phone = p.build()?;
                let qr = phone.qr_text();
                (Box::new(phone), Some(qr))
            }
        })
    }
}

struct Args {
    credential: Credential,
    addr: String,
}

fn usage() -> String {
    let cards: Vec<String> = Profile::all().iter().map(Profile::to_string).collect();
    let phones: Vec<&str> = PhoneProfile::ALL.iter().map(|p| p.name()).collect();
    format!(
        "usage: honnin-vicc [PROFILE] [--addr HOST:PORT]\n\
         PROFILE, a card: {} (default genuine)\n\
         PROFILE, a phone: {}\n\
         --addr: where pcscd's vpcd listens (default {DEFAULT_VPCD_ADDR}; 127.0.0.1:35964 for the \
         second virtual reader)",
        cards.join(", "),
        phones.join(", ")
    )
}

/// `Ok(None)` for `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut credential = Credential::Card(Profile::Genuine);
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
                credential = match PhoneProfile::from_name(name) {
                    Some(phone) => Credential::Phone(phone),
                    None => Credential::Card(name.parse().map_err(|e| format!("{e}"))?),
                };
            }
        }
    }
    Ok(Some(Args { credential, addr }))
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
    let name = args.credential.name();
    let (credential, qr) = match args.credential.build() {
        Ok(built) => built,
        Err(e) => {
            eprintln!("honnin-vicc: cannot build the {name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(qr) = qr {
        println!("qr: {qr}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
    eprintln!("honnin-vicc: serving the {name} to vpcd at {}", args.addr);
    let config = VpcdConfig::new(args.addr)
        .with_atr(args.credential.atr())
        .on_event(log);
    let handle = match vpcd::serve(credential, config) {
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
