//! [`PcscTransport`]: one connected card, as a [`CardTransport`].

use std::time::{Duration, Instant};

use honnin_core::transport::{CardTransport, TransportCapabilities, TransportError};
use zeroize::Zeroize;

use crate::error::{PcscError, transport_error};
use crate::t0;

/// Size of the receive buffer: the largest response there is, 65,536 data bytes plus SW1 SW2.
///
/// Never sized from `Le`: a buffer smaller than the card's answer makes `SCardTransmit` fail with
/// "insufficient buffer" *after* the card ran the command, and a transport that then re-sends
/// runs every command twice — one wrong PIN costs two tries, and the card signs twice.
pub const RECEIVE_BUFFER_LEN: usize = TransportCapabilities::EXTENDED.max_response_len;

// pcsc-lite drops the client connection for receive lengths above its extended maximum.
const _: () = assert!(RECEIVE_BUFFER_LEN <= pcsc::MAX_BUFFER_SIZE_EXTENDED);

/// How long to wait, after a failed exchange, for the resource manager to notice that the card
/// left (two of pcscd's 400 ms presence polls, and some slack).
const PRESENCE_SETTLE: Duration = Duration::from_millis(1_000);

/// Whether to send extended-length APDUs.
///
/// PC/SC has no reliable way to ask a reader whether it carries extended APDUs (CCID readers
/// declare it in a descriptor that pcsc-lite does not expose through `SCardGetAttrib`, and
/// contactless readers differ by firmware). So the transport states an assumption and the core
/// steps down to short APDUs when the reader refuses an extended one
/// ([`TransportError::LengthNotSupported`]) or the card answers `6700`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtendedLength {
    /// Extended on T=1 (and contactless), short on T=0. The default: T=0 has no extended
    /// transport without ENVELOPE, which the My Number Card is not known to support.
    #[default]
    Auto,
    /// Always report extended length (a reader known to carry it).
    Always,
    /// Never: short APDUs only (a reader known to refuse extended APDUs, or to save the step-down
    /// on every connection).
    Never,
}

/// How the connection shares the card with other programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sharing {
    /// No other program may talk to the card while we hold it. The default: a card's security
    /// state (the selected application, a verified PIN) is shared by everyone talking to it, so
    /// another program's SELECT between our VERIFY and our signature would spoil the check.
    #[default]
    Exclusive,
    /// Others may talk to the card too (for diagnostics next to other middleware).
    Shared,
}

impl Sharing {
    pub(crate) fn share_mode(self) -> pcsc::ShareMode {
        match self {
            Sharing::Exclusive => pcsc::ShareMode::Exclusive,
            Sharing::Shared => pcsc::ShareMode::Shared,
        }
    }
}

/// Options for [`crate::Pcsc::connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    pub extended_length: ExtendedLength,
    pub sharing: Sharing,
    /// How long [`CardTransport::reconnect`] waits for the card to come back after it left the
    /// reader. Default: 10 seconds — long enough to put a card back, short enough for the core to
    /// give a clear "card removed" answer.
    pub reconnect_wait: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            extended_length: ExtendedLength::default(),
            sharing: Sharing::default(),
            reconnect_wait: Duration::from_secs(10),
        }
    }
}

/// The transmission protocol the card and reader agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Character protocol: `61xx`/`6Cxx` are resolved by this transport.
    T0,
    /// Block protocol (contactless readers present T=CL as T=1).
    T1,
    /// Raw (reader-specific); treated like T=1.
    Raw,
}

impl Protocol {
    fn from_pcsc(p: pcsc::Protocol) -> Self {
        match p {
            pcsc::Protocol::T0 => Protocol::T0,
            pcsc::Protocol::T1 => Protocol::T1,
            pcsc::Protocol::RAW => Protocol::Raw,
        }
    }
}

/// What to do with the card when disconnecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Leave the card as it is (security state kept: only for handing over to another program
    /// on purpose).
    Leave,
    /// Reset the card: verified PINs and the selected application are forgotten. What dropping a
    /// [`PcscTransport`] does.
    Reset,
    /// Power the card down.
    Unpower,
}

/// A card connected through PC/SC.
///
/// Dropping it disconnects with a card reset, so that no verified PIN outlives the session.
pub struct PcscTransport {
    ctx: pcsc::Context,
    /// `None` after the card left and has not been re-attached yet.
    card: Option<pcsc::Card>,
    reader: String,
    protocol: Protocol,
    options: ConnectOptions,
    /// Reused for every exchange; wiped after each (responses carry personal data).
    buffer: Box<[u8]>,
}

impl std::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscTransport")
            .field("reader", &self.reader)
            .field("protocol", &self.protocol)
            .field("connected", &self.card.is_some())
            .finish_non_exhaustive()
    }
}

impl PcscTransport {
    /// Connects to the card on `reader`.
    pub(crate) fn connect(
        ctx: pcsc::Context,
        reader: &str,
        options: ConnectOptions,
    ) -> Result<Self, PcscError> {
        let (card, protocol) = connect_card(&ctx, reader, options.sharing)?;
        Ok(Self {
            ctx,
            card: Some(card),
            reader: reader.to_owned(),
            protocol,
            options,
            buffer: vec![0u8; RECEIVE_BUFFER_LEN].into_boxed_slice(),
        })
    }

    /// The reader's name as PC/SC lists it.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// The protocol of the current connection (it can change when the card is re-attached).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The card's answer to reset. For display and diagnostics only: a My Number Card is
    /// recognised by selecting its application, never by ATR (ATRs differ by generation and
    /// reader).
    pub fn atr(&self) -> Result<Vec<u8>, PcscError> {
        let card = self
            .card
            .as_ref()
            .ok_or_else(|| PcscError::NoCard(self.reader.clone()))?;
        card.status2_owned()
            .map(|s| s.atr().to_vec())
            .map_err(|e| PcscError::from_pcsc("SCardStatus", &self.reader, e))
    }

    /// Disconnects, doing `disposition` to the card.
    pub fn disconnect(mut self, disposition: Disposition) -> Result<(), PcscError> {
        let raw = match disposition {
            Disposition::Leave => pcsc::Disposition::LeaveCard,
            Disposition::Reset => pcsc::Disposition::ResetCard,
            Disposition::Unpower => pcsc::Disposition::UnpowerCard,
        };
        match self.card.take() {
            Some(card) => card
                .disconnect(raw)
                .map_err(|(_card, e)| PcscError::from_pcsc("SCardDisconnect", &self.reader, e)),
            None => Ok(()),
        }
    }

    /// Drops the old handle (resetting the card if it is still there), waits up to `wait` for
    /// a card on the reader, and connects to it afresh.
    fn reattach(&mut self, wait: Duration) -> Result<(), PcscError> {
        // Disconnect first: an exclusive handle would block the new connection.
        self.card = None;
        crate::context::wait_for_card(&self.ctx, Some(&self.reader), wait)?;
        let (card, protocol) = connect_card(&self.ctx, &self.reader, self.options.sharing)?;
        self.card = Some(card);
        self.protocol = protocol;
        Ok(())
    }

    /// Whether the card left, asked after a failed or empty exchange. The resource manager may
    /// learn of a removal only at its next presence poll (pcscd polls some readers every 400
    /// ms), so the question is asked for up to `settle`.
    fn card_gone(card: &pcsc::Card, settle: Duration) -> bool {
        let deadline = Instant::now() + settle;
        loop {
            let gone = match card.status2_owned() {
                Ok(status) => {
                    let st = status.status();
                    st.contains(pcsc::Status::ABSENT) || !st.contains(pcsc::Status::PRESENT)
                }
                Err(_) => true,
            };
            if gone || Instant::now() >= deadline {
                return gone;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One `SCardTransmit`, nothing more.
    fn transmit_once(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let Some(card) = self.card.as_ref() else {
            return Err(TransportError::NoCard);
        };
        let result = card.transmit(command, &mut self.buffer).map(<[u8]>::to_vec);
        // Wipe what the card sent (and whatever a failed call may have left).
        let used = match &result {
            Ok(r) => r.len(),
            Err(_) => self.buffer.len(),
        };
        self.buffer[..used].zeroize();
        let extended = is_extended(command);
        let err = match result {
            Ok(response) if response.len() >= 2 => return Ok(response),
            // No status word: not an answer from a card. Some drivers (vsmartcard's vpcd among
            // them) report a card lost mid-exchange this way.
            Ok(response) => {
                if Self::card_gone(card, PRESENCE_SETTLE) {
                    TransportError::TagLost
                } else {
                    TransportError::Reader(format!(
                        "the reader returned {} bytes, without the card's status word",
                        response.len()
                    ))
                }
            }
            // For an extended command the likelier cause is the reader refusing its length: ask
            // once, without waiting, so that stepping down to short APDUs costs no time.
            Err(e) => transport_error(e, extended, || {
                Self::card_gone(
                    card,
                    if extended {
                        Duration::ZERO
                    } else {
                        PRESENCE_SETTLE
                    },
                )
            }),
        };
        if matches!(err, TransportError::TagLost | TransportError::NoCard) {
            // The handle is spent; the next exchange or `reconnect` makes a new one.
            self.card = None;
        }
        Err(err)
    }
}

/// Connects with T=0 or T=1 and reads back which one the card chose.
fn connect_card(
    ctx: &pcsc::Context,
    reader: &str,
    sharing: Sharing,
) -> Result<(pcsc::Card, Protocol), PcscError> {
    let name = crate::context::c_name(reader)?;
    let card = ctx
        .connect(&name, sharing.share_mode(), pcsc::Protocols::ANY)
        .map_err(|e| crate::context::connect_error(ctx, reader, e))?;
    let status = card
        .status2_owned()
        .map_err(|e| PcscError::from_pcsc("SCardStatus", reader, e))?;
    let protocol = status
        .protocol2()
        .map(Protocol::from_pcsc)
        .ok_or_else(|| PcscError::NoProtocol(reader.to_owned()))?;
    Ok((card, protocol))
}

fn link_error(e: PcscError) -> TransportError {
    match e {
        PcscError::NoCard(_) | PcscError::CardRemoved(_) | PcscError::WaitTimedOut(_) => {
            TransportError::NoCard
        }
        other => TransportError::Reader(other.to_string()),
    }
}

impl CardTransport for PcscTransport {
    fn capabilities(&self) -> TransportCapabilities {
        let extended = match self.options.extended_length {
            ExtendedLength::Always => true,
            ExtendedLength::Never => false,
            ExtendedLength::Auto => self.protocol != Protocol::T0,
        };
        if extended {
            TransportCapabilities::EXTENDED
        } else {
            TransportCapabilities::SHORT_ONLY
        }
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.card.is_none() {
            // The card left earlier and nobody called `reconnect`: attach to it if it is back,
            // without waiting.
            self.reattach(Duration::ZERO).map_err(link_error)?;
        }
        if self.protocol == Protocol::T0 {
            t0::exchange(command, |c| self.transmit_once(c))
        } else {
            self.transmit_once(command)
        }
    }

    /// Waits up to [`ConnectOptions::reconnect_wait`] for the card to be back on the reader and
    /// connects to it afresh (reset: nothing selected, no PIN verified).
    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.reattach(self.options.reconnect_wait)
            .map_err(link_error)
    }
}

/// Whether an encoded command uses the extended length form: a zero byte where a short `Lc`
/// would be (short `Lc` is never zero), with the 2-byte length after it.
fn is_extended(command: &[u8]) -> bool {
    command.len() >= 7 && command[4] == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_form_is_recognised() {
        assert!(!is_extended(&[0, 0xB0, 0, 0, 0]));
        assert!(is_extended(&[0, 0xB0, 0, 0, 0, 0x10, 0]));
        assert!(!is_extended(&[0, 0xA4, 2, 0x0C, 2, 0, 0x0A]));
        assert!(is_extended(&[0x80, 0x2A, 0, 0x80, 0, 0, 1, 0xAA, 0, 0]));
    }

    #[test]
    fn buffer_holds_the_largest_extended_response() {
        assert_eq!(RECEIVE_BUFFER_LEN, 65_538);
    }
}
