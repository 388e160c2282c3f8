//! What the command line reports, and its exit codes.

use std::process::ExitCode;

use thiserror::Error;

/// Exit codes of usage and environment errors (sysexits.h numbering, 64 and up).
pub mod exit {
    pub const USAGE: u8 = 64;
    pub const DATA: u8 = 65;
    pub const UNAVAILABLE: u8 = 69;
    pub const IO: u8 = 74;
}

#[derive(Debug, Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    /// No reader, no pcscd, a card that is not a My Number Card, …
    #[error("{0}")]
    Environment(String),
    /// The card answered, but not as a My Number Card does.
    #[error("{0}")]
    Card(String),
    #[error("{0}")]
    Io(String),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Card(_) => exit::DATA,
            CliError::Environment(_) => exit::UNAVAILABLE,
            CliError::Io(_) => exit::IO,
        })
    }
}

impl From<honnin_core::reader::CardError> for CliError {
    fn from(e: honnin_core::reader::CardError) -> Self {
        CliError::Card(e.to_string())
    }
}
