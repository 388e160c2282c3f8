//! PC/SC transport for honnin: reads a My Number Card on a desktop contact or contactless reader.
//!
//! ```no_run
//! use honnin_pcsc::{ConnectOptions, Pcsc};
//! use std::time::Duration;
//!
//! let pcsc = Pcsc::establish()?;
//! let reader = pcsc.wait_for_card(None, Duration::from_secs(30))?;
//! let transport = pcsc.connect(&reader, ConnectOptions::default())?;
//! // hand `transport` (a `CardTransport`) to the core
//! # Ok::<(), honnin_pcsc::PcscError>(())
//! ```
//!
//! What this crate does about the lessons in the brief:
//! - The receive buffer is always [`RECEIVE_BUFFER_LEN`] (65,538) bytes, never sized from `Le`,
//!   and a failed exchange is never re-sent: each command reaches the card once.
//! - Extended length cannot be queried through PC/SC; [`ExtendedLength`] states the assumption
//!   (default: extended except on T=0) and the core steps down when the reader refuses.
//! - T=0 `61xx`/`6Cxx` are resolved here, because pcsc-lite does not (see `t0.rs`); on T=1 and
//!   contactless they reach the core unchanged.
//! - Link failures map to [`honnin_core::transport::TransportError`]: card removed or reset →
//!   `TagLost` (the next exchange re-attaches to the card, reset), no card → `NoCard`, timeout →
//!   `Timeout`, anything else → `Reader(message)`.

mod context;
mod error;
mod t0;
mod transport;

pub use context::{CardPresence, Pcsc, ReaderInfo, WaitCanceller};
pub use error::PcscError;
pub use transport::{
    ConnectOptions, Disposition, ExtendedLength, PcscTransport, Protocol, RECEIVE_BUFFER_LEN,
    Sharing,
};
