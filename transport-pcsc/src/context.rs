//! [`Pcsc`]: the PC/SC resource manager — readers, connecting, waiting for a card.

use std::ffi::CString;
use std::time::{Duration, Instant};

use crate::error::PcscError;
use crate::transport::{ConnectOptions, PcscTransport};

/// A reader and what is on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    pub name: String,
    pub card: CardPresence,
}

/// Whether a reader holds a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardPresence {
    Absent,
    /// A card answered to reset with this ATR.
    Present {
        atr: Vec<u8>,
    },
    /// A card is there but did not answer to reset.
    Mute,
    /// The reader is unavailable or its state unknown.
    Unknown,
}

/// A connection to the PC/SC resource manager (pcscd, WinSCard).
///
/// Cheap to keep for the life of an application; one per thread that waits for cards.
pub struct Pcsc {
    ctx: pcsc::Context,
}

impl std::fmt::Debug for Pcsc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pcsc").finish_non_exhaustive()
    }
}

/// Cancels a [`Pcsc::wait_for_card`] or [`Pcsc::wait_for_removal`] from another thread (the
/// counter screen's "stop" button). The wait returns [`PcscError::Cancelled`].
#[derive(Clone)]
pub struct WaitCanceller {
    ctx: pcsc::Context,
}

impl std::fmt::Debug for WaitCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitCanceller").finish_non_exhaustive()
    }
}

impl WaitCanceller {
    pub fn cancel(&self) -> Result<(), PcscError> {
        self.ctx
            .cancel()
            .map_err(|e| PcscError::from_pcsc("SCardCancel", "", e))
    }
}

impl Pcsc {
    /// Connects to the resource manager. Fails with [`PcscError::NoService`] when it is not
    /// running.
    pub fn establish() -> Result<Self, PcscError> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User)
            .map_err(|e| PcscError::from_pcsc("SCardEstablishContext", "", e))?;
        Ok(Self { ctx })
    }

    pub fn canceller(&self) -> WaitCanceller {
        WaitCanceller {
            ctx: self.ctx.clone(),
        }
    }

    /// Names of the attached readers; empty when there are none.
    pub fn list_readers(&self) -> Result<Vec<String>, PcscError> {
        list_readers(&self.ctx)
    }

    /// Every reader with what is on it, read without waiting.
    pub fn reader_states(&self) -> Result<Vec<ReaderInfo>, PcscError> {
        let names = self.list_readers()?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut states = reader_states(&names)?;
        status_change(&self.ctx, Duration::ZERO, &mut states)?;
        Ok(names
            .into_iter()
            .zip(&states)
            .map(|(name, st)| ReaderInfo {
                name,
                card: presence(st),
            })
            .collect())
    }

    /// Connects to the card on the named reader (T=0 or T=1, whichever the card offers).
    pub fn connect(
        &self,
        reader: &str,
        options: ConnectOptions,
    ) -> Result<PcscTransport, PcscError> {
        PcscTransport::connect(self.ctx.clone(), reader, options)
    }

    /// Connects to the card on the first reader (in PC/SC's order) that holds one that answers.
    pub fn connect_first_with_card(
        &self,
        options: ConnectOptions,
    ) -> Result<PcscTransport, PcscError> {
        let readers = self.reader_states()?;
        if readers.is_empty() {
            return Err(PcscError::NoReaders);
        }
        let reader = readers
            .into_iter()
            .find(|r| matches!(r.card, CardPresence::Present { .. }))
            .ok_or(PcscError::NoCardOnAnyReader)?;
        self.connect(&reader.name, options)
    }

    /// Blocks until a card is on `reader` (or on any reader, readers plugged in meanwhile
    /// included, when `reader` is `None`), and returns that reader's name. Returns at once when
    /// a card is already there.
    ///
    /// For the counter: wait, connect, check, then [`Pcsc::wait_for_removal`] before waiting for
    /// the next card.
    pub fn wait_for_card(
        &self,
        reader: Option<&str>,
        timeout: Duration,
    ) -> Result<String, PcscError> {
        wait_for_card(&self.ctx, reader, timeout)
    }

    /// Blocks until `reader` holds no card (or is unplugged).
    pub fn wait_for_removal(&self, reader: &str, timeout: Duration) -> Result<(), PcscError> {
        let deadline = Instant::now() + timeout;
        let mut states = reader_states(&[reader.to_owned()])?;
        status_change(&self.ctx, Duration::ZERO, &mut states)?;
        loop {
            if states.iter().all(|st| {
                !matches!(
                    presence(st),
                    CardPresence::Present { .. } | CardPresence::Mute
                )
            }) {
                return Ok(());
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(PcscError::WaitTimedOut(timeout));
            }
            states
                .iter_mut()
                .for_each(pcsc::ReaderState::sync_current_state);
            status_change_or_timeout(&self.ctx, remaining, timeout, &mut states)?;
        }
    }
}

pub(crate) fn c_name(reader: &str) -> Result<CString, PcscError> {
    CString::new(reader).map_err(|_| PcscError::InvalidReaderName(reader.to_owned()))
}

fn reader_states(names: &[String]) -> Result<Vec<pcsc::ReaderState>, PcscError> {
    names
        .iter()
        .map(|n| Ok(pcsc::ReaderState::new(c_name(n)?, pcsc::State::UNAWARE)))
        .collect()
}

fn presence(st: &pcsc::ReaderState) -> CardPresence {
    let ev = st.event_state();
    if ev.intersects(pcsc::State::UNKNOWN | pcsc::State::UNAVAILABLE | pcsc::State::IGNORE) {
        CardPresence::Unknown
    } else if ev.contains(pcsc::State::MUTE) {
        CardPresence::Mute
    } else if ev.contains(pcsc::State::PRESENT) {
        CardPresence::Present {
            atr: st.atr().to_vec(),
        }
    } else {
        CardPresence::Absent
    }
}

/// See [`Pcsc::wait_for_card`].
pub(crate) fn wait_for_card(
    ctx: &pcsc::Context,
    reader: Option<&str>,
    timeout: Duration,
) -> Result<String, PcscError> {
    let deadline = Instant::now() + timeout;
    loop {
        let names: Vec<String> = match reader {
            Some(r) => vec![r.to_owned()],
            None => list_readers(ctx)?,
        };
        let mut states = reader_states(&names)?;
        if reader.is_none() {
            states.push(pcsc::ReaderState::new(
                pcsc::PNP_NOTIFICATION(),
                pcsc::State::UNAWARE,
            ));
        }
        // The first call, with every state UNAWARE, returns the current states at once.
        status_change(ctx, Duration::ZERO, &mut states)?;
        loop {
            for (name, st) in names.iter().zip(&states) {
                match presence(st) {
                    CardPresence::Present { .. } => return Ok(name.clone()),
                    CardPresence::Unknown if reader.is_some() => {
                        return Err(unknown_reader(ctx, name));
                    }
                    _ => {}
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(PcscError::WaitTimedOut(timeout));
            }
            states
                .iter_mut()
                .for_each(pcsc::ReaderState::sync_current_state);
            status_change_or_timeout(ctx, remaining, timeout, &mut states)?;
            // A reader came or went: list them again.
            let pnp_changed = reader.is_none()
                && states
                    .last()
                    .is_some_and(|s| s.event_state().contains(pcsc::State::CHANGED));
            if pnp_changed {
                break;
            }
        }
    }
}

pub(crate) fn list_readers(ctx: &pcsc::Context) -> Result<Vec<String>, PcscError> {
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names
            .into_iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(PcscError::from_pcsc("SCardListReaders", "", e)),
    }
}

fn unknown_reader(ctx: &pcsc::Context, name: &str) -> PcscError {
    PcscError::UnknownReader {
        name: name.to_owned(),
        available: list_readers(ctx).map(|r| r.join(", ")).unwrap_or_default(),
    }
}

/// Maps a failed `SCardConnect`.
pub(crate) fn connect_error(ctx: &pcsc::Context, reader: &str, e: pcsc::Error) -> PcscError {
    match e {
        pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => unknown_reader(ctx, reader),
        other => PcscError::from_pcsc("SCardConnect", reader, other),
    }
}

fn status_change(
    ctx: &pcsc::Context,
    timeout: Duration,
    states: &mut [pcsc::ReaderState],
) -> Result<(), PcscError> {
    match ctx.get_status_change(timeout, states) {
        // With a zero timeout and nothing changed since the states we passed, pcsc-lite says
        // "timeout": the states are still filled in.
        Ok(()) | Err(pcsc::Error::Timeout) => Ok(()),
        Err(e) => Err(PcscError::from_pcsc("SCardGetStatusChange", "", e)),
    }
}

fn status_change_or_timeout(
    ctx: &pcsc::Context,
    remaining: Duration,
    timeout: Duration,
    states: &mut [pcsc::ReaderState],
) -> Result<(), PcscError> {
    match ctx.get_status_change(remaining, states) {
        Ok(()) => Ok(()),
        Err(pcsc::Error::Timeout) => Err(PcscError::WaitTimedOut(timeout)),
        Err(e) => Err(PcscError::from_pcsc("SCardGetStatusChange", "", e)),
    }
}
