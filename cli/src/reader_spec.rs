//! `--reader sim:<profile>` or `--reader pcsc[:<reader name>]`: which card to talk to.

use std::str::FromStr;

use honnin_core::check::Level;
use honnin_core::credential_kind::{Credential, DetectError, detect};
use honnin_core::reader::Counters;
use honnin_core::transport::{CardTransport, TransportCapabilities, TransportError};
use honnin_pcsc::{ConnectOptions, ExtendedLength, Pcsc, PcscTransport};
use honnin_simcard::mdoc::{PhoneProfile, SoftwarePhone};
use honnin_simcard::{LinkConfig, Profile, SoftwareCard};

use crate::error::CliError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderSpec {
    /// The software card, in-process, with one of its profiles.
    Simulated(String),
    /// A PC/SC reader: the named one, or the first with a card on it.
    Pcsc(Option<String>),
}

impl FromStr for ReaderSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(profile) = text.strip_prefix("sim:") {
            if PhoneProfile::from_name(profile).is_some() {
                return Ok(ReaderSpec::Simulated(profile.to_owned()));
            }
            Profile::from_name(profile).map_err(|e| e.to_string())?;
            return Ok(ReaderSpec::Simulated(profile.to_owned()));
        }
        if text == "pcsc" {
            return Ok(ReaderSpec::Pcsc(None));
        }
        if let Some(name) = text.strip_prefix("pcsc:") {
            return Ok(ReaderSpec::Pcsc(Some(name.to_owned())));
        }
        Err(format!(
            "unknown reader {text:?}: use sim:<profile> (e.g. sim:genuine) or pcsc[:<reader name>]"
        ))
    }
}

impl std::fmt::Display for ReaderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReaderSpec::Simulated(profile) => write!(f, "sim:{profile}"),
            ReaderSpec::Pcsc(None) => f.write_str("pcsc"),
            ReaderSpec::Pcsc(Some(name)) => write!(f, "pcsc:{name}"),
        }
    }
}

/// How the link is set up: extended length on, off, or decided by the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExtendedMode {
    Auto,
    On,
    Off,
}

/// An open connection to a card, whichever kind.
pub enum Reader {
    Simulated(Box<SoftwareCard>),
    /// The software phone (`sim:mdoc-…`), an mdoc at APDU level.
    Phone(Box<SoftwarePhone>),
    Pcsc(PcscTransport),
}

impl Reader {
    pub fn open(spec: &ReaderSpec, extended: ExtendedMode) -> Result<Self, CliError> {
        match spec {
            ReaderSpec::Simulated(name) if PhoneProfile::from_name(name).is_some() => {
                let phone = PhoneProfile::from_name(name)
                    .map(PhoneProfile::build)
                    .transpose()
                    .map_err(|e| CliError::Environment(format!("software phone: {e}")))?
                    .ok_or_else(|| CliError::Usage(format!("unknown phone profile {name}")))?;
                Ok(Reader::Phone(Box::new(match extended {
                    ExtendedMode::Off => phone.short_only(),
                    ExtendedMode::Auto | ExtendedMode::On => phone,
                })))
            }
            ReaderSpec::Simulated(name) => {
                let profile =
                    Profile::from_name(name).map_err(|e| CliError::Usage(e.to_string()))?;
                let card = profile
                    .build()
                    .map_err(|e| CliError::Environment(format!("software card: {e}")))?;
                let link = match extended {
                    ExtendedMode::Auto | ExtendedMode::On => LinkConfig::EXTENDED,
                    ExtendedMode::Off => LinkConfig::SHORT_ONLY,
                };
                Ok(Reader::Simulated(Box::new(card.with_link(link))))
            }
            ReaderSpec::Pcsc(name) => {
                let pcsc = Pcsc::establish().map_err(|e| CliError::Environment(e.to_string()))?;
                let options = ConnectOptions {
                    extended_length: match extended {
                        ExtendedMode::Auto => ExtendedLength::Auto,
                        ExtendedMode::On => ExtendedLength::Always,
                        ExtendedMode::Off => ExtendedLength::Never,
                    },
                    ..ConnectOptions::default()
                };
                let transport = match name {
                    Some(name) => pcsc.connect(name, options),
                    None => pcsc.connect_first_with_card(options),
                }
                .map_err(|e| CliError::Environment(e.to_string()))?;
                Ok(Reader::Pcsc(transport))
            }
        }
    }
}

impl Reader {
    /// Makes sure the credential on the reader suits `level`, before any secret is asked for:
    /// a phone wallet is never asked for a card PIN, a card never run through the phone check.
    /// A PC/SC reader is asked by AID (SELECTs only; their cost is returned, to be counted with
    /// the check's); the software card and phone are what their profile names.
    pub fn identify(&mut self, level: Level) -> Result<Counters, CliError> {
        let (credential, cost) = match self {
            Reader::Simulated(_) => (Credential::Card, Counters::default()),
            Reader::Phone(_) => (Credential::Phone, Counters::default()),
            Reader::Pcsc(transport) => {
                let found = detect(transport).map_err(|e| match e {
                    DetectError::Transport(
                        TransportError::TagLost | TransportError::NoCard | TransportError::Timeout,
                    ) => CliError::Environment(
                        "the card or phone left the reader before honnin could tell which it is: \
                         hold it still on the reader and run the check again"
                            .into(),
                    ),
                    DetectError::Transport(other) => CliError::Environment(format!(
                        "the reader failed while looking for a card or phone: {other}"
                    )),
                    other => CliError::Card(other.to_string()),
                })?;
                (found.credential, found.counters)
            }
        };
        credential
            .fits(level)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(cost)
    }
}

impl CardTransport for Reader {
    fn capabilities(&self) -> TransportCapabilities {
        match self {
            Reader::Simulated(card) => card.capabilities(),
            Reader::Phone(phone) => phone.capabilities(),
            Reader::Pcsc(transport) => transport.capabilities(),
        }
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        match self {
            Reader::Simulated(card) => card.transmit(command),
            Reader::Phone(phone) => phone.transmit(command),
            Reader::Pcsc(transport) => transport.transmit(command),
        }
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        match self {
            Reader::Simulated(card) => card.reconnect(),
            Reader::Phone(phone) => phone.reconnect(),
            Reader::Pcsc(transport) => transport.reconnect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reader_specs() {
        assert_eq!(
            "sim:genuine".parse::<ReaderSpec>(),
            Ok(ReaderSpec::Simulated("genuine".into()))
        );
        assert_eq!("pcsc".parse::<ReaderSpec>(), Ok(ReaderSpec::Pcsc(None)));
        assert_eq!(
            "pcsc:Virtual PCD 00 00".parse::<ReaderSpec>(),
            Ok(ReaderSpec::Pcsc(Some("Virtual PCD 00 00".into())))
        );
        let err = "sim:nonsense".parse::<ReaderSpec>().expect_err("unknown");
        assert!(err.contains("genuine"), "{err}");
        assert!("nfc".parse::<ReaderSpec>().is_err());
    }
}
