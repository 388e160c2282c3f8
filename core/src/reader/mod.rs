//! The reading engine: one session with one card, over a platform transport.
//!
//! It selects applications and files, reads EFs whose size it learns from their TLV/DER header,
//! asks for as much per READ BINARY as the link carries (extended length when available, else the
//! largest short Le that works), and resumes after the card leaves the field. It counts APDUs and
//! bytes per named operation so that benchmarks and notes can quote real figures.

mod counters;
mod error;
mod events;
mod exchange;
mod read_binary;
#[cfg(test)]
mod tests;

pub use counters::{Counters, OperationStats};
pub use error::CardError;
pub use events::{ReadEvent, ReadObserver};

use crate::apdu::{CardStatus, Command, Response};

use crate::card::profile::{aid, ins};
use crate::transport::{CardTransport, TransportCapabilities, TransportError};

/// Tag losses tolerated within one operation before giving up.
pub const DEFAULT_MAX_TAG_LOSSES: u32 = 3;

/// A card application, by AID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Application {
    Jpki,
    InputSupport,
    CardFace,
}

impl Application {
    pub fn aid(self) -> &'static [u8] {
        match self {
            Application::Jpki => &aid::JPKI,
            Application::InputSupport => &aid::INPUT_SUPPORT,
            Application::CardFace => &aid::CARD_FACE,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Application::Jpki => "JPKI",
            Application::InputSupport => "input support (券面事項入力補助)",
            Application::CardFace => "card face (券面)",
        }
    }
}

/// State of a PIN as the card reports it without spending a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    TriesLeft(u8),
    Locked,
    /// The card answered `90 00`: the PIN is already verified in this session.
    AlreadyVerified,
}

/// One session with one card. Not shareable across threads: a card does one thing at a time.
pub struct CardSession<T> {
    transport: T,
    capabilities: TransportCapabilities,
    extended_enabled: bool,
    short_le: usize,
    counters: Counters,
    operations: Vec<OperationStats>,
    observer: Option<Box<dyn ReadObserver>>,
    selected_application: Option<Application>,
    selected_ef: Option<u16>,
    /// A PIN or 照合番号B was accepted in the selected application; a tag loss destroys it.
    unlocked: bool,
    /// The PIN counter just read and the EF it belongs to, valid until the next exchange: the
    /// guard before VERIFY reuses it instead of asking the card again.
    fresh_pin_state: Option<(u16, PinState)>,
    max_tag_losses: u32,
}

impl<T: CardTransport> CardSession<T> {
    pub fn new(transport: T) -> Self {
        let capabilities = transport.capabilities();
        Self {
            extended_enabled: capabilities.extended_length,
            short_le: crate::apdu::MAX_SHORT_LE,
            capabilities,
            transport,
            counters: Counters::default(),
            operations: Vec::new(),
            observer: None,
            selected_application: None,
            selected_ef: None,
            unlocked: false,
            fresh_pin_state: None,
            max_tag_losses: DEFAULT_MAX_TAG_LOSSES,
        }
    }

    pub fn with_observer(mut self, observer: impl ReadObserver + 'static) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    pub fn with_max_tag_losses(mut self, max: u32) -> Self {
        self.max_tag_losses = max;
        self
    }

    /// Totals since the session started.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Cost of each named operation, in order.
    pub fn operations(&self) -> &[OperationStats] {
        &self.operations
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Whether extended-length reads are in use (false after the link refused them).
    pub fn extended_length_in_use(&self) -> bool {
        self.extended_enabled
    }

    fn emit(&mut self, event: ReadEvent) {
        if let Some(observer) = self.observer.as_mut() {
            observer.on_event(&event);
        }
    }

    /// Runs `work` and records what it cost under `operation`.
    pub(crate) fn measure<R>(
        &mut self,
        operation: &'static str,
        work: impl FnOnce(&mut Self) -> R,
    ) -> R {
        let before = self.counters;
        let result = work(self);
        self.operations.push(OperationStats {
            operation,
            counters: self.counters - before,
        });
        result
    }

    /// An exchange that survives the card leaving the field: waits for it, restores the
    /// selection and sends the command again. Only for commands that are safe to repeat and need
    /// no unlocked state; with a PIN accepted, a tag loss ends in [`CardError::SecurityStateLost`].
    pub(crate) fn transmit_resumable(
        &mut self,
        command: &Command,
        resume_offset: usize,
    ) -> Result<Response, CardError> {
        let mut attempts = 0;
        loop {
            match self.transmit(command) {
                Err(CardError::Transport(TransportError::TagLost)) => {}
                other => return other,
            }
            loop {
                attempts += 1;
                if attempts > self.max_tag_losses {
                    // What the card has selected is unknown now; select afresh next time.
                    self.selected_application = None;
                    self.selected_ef = None;
                    return Err(CardError::TagLostTooOften { attempts });
                }
                self.emit(ReadEvent::TagLost {
                    attempt: attempts,
                    max_attempts: self.max_tag_losses,
                });
                if self.unlocked {
                    // What the PIN unlocked is gone with the power; repeating would only fail.
                    self.unlocked = false;
                    self.selected_application = None;
                    self.selected_ef = None;
                    let _ = self.transport.reconnect();
                    return Err(CardError::SecurityStateLost);
                }
                match self.restore_selection() {
                    Ok(()) => break,
                    Err(CardError::Transport(
                        TransportError::TagLost | TransportError::NoCard | TransportError::Timeout,
                    )) => continue,
                    Err(other) => return Err(other),
                }
            }
            if let Some(ef) = self.selected_ef {
                self.emit(ReadEvent::Resumed {
                    ef,
                    offset: resume_offset,
                });
            }
        }
    }

    fn restore_selection(&mut self) -> Result<(), CardError> {
        self.transport.reconnect()?;
        if let Some(app) = self.selected_application {
            let response = self.transmit(&select_application_command(app))?;
            expect_selected(&response, app)?;
        }
        if let Some(ef) = self.selected_ef {
            let response = self.transmit(&select_ef_command(ef))?;
            expect_ef_selected(&response, ef)?;
        }
        Ok(())
    }

    /// Selects an application; any security state of the previous one is gone afterwards.
    pub(crate) fn select_application(&mut self, app: Application) -> Result<(), CardError> {
        self.selected_application = None;
        self.selected_ef = None;
        self.unlocked = false;
        let response = self.transmit_resumable(&select_application_command(app), 0)?;
        expect_selected(&response, app)?;
        self.selected_application = Some(app);
        Ok(())
    }

    pub(crate) fn select_ef(&mut self, ef: u16) -> Result<(), CardError> {
        // Selecting the EF that is already current changes nothing on the card; skip the APDU.
        if self.selected_ef == Some(ef) {
            return Ok(());
        }
        let response = self.transmit_resumable(&select_ef_command(ef), 0)?;
        expect_ef_selected(&response, ef)?;
        self.selected_ef = Some(ef);
        Ok(())
    }

    /// Reads the tries left of the PIN in EF `pin_ef` without spending one (VERIFY, no data).
    pub(crate) fn pin_state(&mut self, pin_ef: u16) -> Result<PinState, CardError> {
        if let Some((ef, state)) = self.fresh_pin_state
            && ef == pin_ef
        {
            return Ok(state);
        }
        self.select_ef(pin_ef)?;
        let command = Command::new(0x00, ins::VERIFY, 0x00, 0x80);
        let response = self.transmit_resumable(&command, 0)?;
        let state = match response.status().decode() {
            CardStatus::WrongPin { tries_left } => PinState::TriesLeft(tries_left),
            CardStatus::PinLocked => PinState::Locked,
            CardStatus::Success => PinState::AlreadyVerified,
            _ => {
                return Err(CardError::refused(
                    "reading PIN tries left",
                    response.status(),
                ));
            }
        };
        self.fresh_pin_state = Some((pin_ef, state));
        Ok(state)
    }

    /// Sends a secret with VERIFY to the PIN in EF `pin_ef`. Never retried: a lost answer may
    /// have cost a try, and the caller must read the counter again before any new attempt.
    pub(crate) fn verify(&mut self, pin_ef: u16, secret: &[u8]) -> Result<(), CardError> {
        self.select_ef(pin_ef)?;
        let command = Command::new(0x00, ins::VERIFY, 0x00, 0x80).with_data(secret);
        let response = self.transmit(&command)?;
        if response.status().is_success() {
            self.unlocked = true;
            Ok(())
        } else {
            Err(CardError::refused("VERIFY", response.status()))
        }
    }

    /// An exchange that needs the unlocked state and is not repeated after a tag loss.
    pub(crate) fn transmit_unlocked(&mut self, command: &Command) -> Result<Response, CardError> {
        match self.transmit(command) {
            Err(CardError::Transport(TransportError::TagLost)) => {
                self.unlocked = false;
                self.selected_application = None;
                self.selected_ef = None;
                Err(CardError::SecurityStateLost)
            }
            other => other,
        }
    }
}

fn select_application_command(app: Application) -> Command {
    Command::new(0x00, ins::SELECT, ins::P1_SELECT_AID, ins::P2_NO_FCI).with_data(app.aid())
}

fn select_ef_command(ef: u16) -> Command {
    Command::new(0x00, ins::SELECT, ins::P1_SELECT_EF, ins::P2_NO_FCI).with_data(ef.to_be_bytes())
}

fn expect_selected(response: &Response, app: Application) -> Result<(), CardError> {
    match response.status().decode() {
        CardStatus::Success => Ok(()),
        CardStatus::FileNotFound => Err(CardError::ApplicationNotFound(app.name())),
        _ => Err(CardError::refused("SELECT application", response.status())),
    }
}

fn expect_ef_selected(response: &Response, ef: u16) -> Result<(), CardError> {
    match response.status().decode() {
        CardStatus::Success => Ok(()),
        CardStatus::FileNotFound => Err(CardError::FileNotFound { ef }),
        _ => Err(CardError::refused("SELECT file", response.status())),
    }
}
