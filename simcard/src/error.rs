//! The software card's one error type.
//!
//! Building a card can fail only when the committed fixtures are damaged or a profile name is
//! unknown; the generator adds file and tool failures. The card itself never fails: everything a
//! reader sends gets a status word, and link faults are `TransportError`s by design.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SimError {
    /// A committed fixture could not be decoded (the file is damaged or from another version).
    #[error("fixture {name}: {reason}")]
    Fixture { name: String, reason: String },
    /// An RSA operation failed (only possible with a damaged key).
    #[error("RSA operation failed: {0}")]
    Rsa(String),
    /// A certificate, CRL or key could not be encoded.
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// A profile name that `Profile::from_name` does not know.
    #[error("unknown card profile {name:?}; known profiles: {known}")]
    UnknownProfile { name: String, known: String },
    /// The fixture generator could not write or run something.
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

impl SimError {
    pub(crate) fn fixture(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::Fixture {
            name: name.to_owned(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

impl From<rsa::Error> for SimError {
    fn from(e: rsa::Error) -> Self {
        Self::Rsa(e.to_string())
    }
}

impl From<der::Error> for SimError {
    fn from(e: der::Error) -> Self {
        Self::Encoding(e.to_string())
    }
}

impl From<x509_cert::builder::Error> for SimError {
    fn from(e: x509_cert::builder::Error) -> Self {
        Self::Encoding(e.to_string())
    }
}

impl From<spki::Error> for SimError {
    fn from(e: spki::Error) -> Self {
        Self::Encoding(e.to_string())
    }
}
