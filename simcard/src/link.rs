//! What lies between the reader and the card: the link's limits and the faults it can inject.
//!
//! Real readers differ: some carry extended APDUs, some do not; some refuse an oversized `Le`
//! themselves (a transport error), others pass it on and the card answers `67 00`. Both are
//! configurable so that the reader is tested against each.

use honnin_core::transport::TransportCapabilities;

/// What happens to a command the link cannot carry (an extended APDU on a short-only link, or an
/// `Le` above what the link delivers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oversize {
    /// The card sees it and answers `67 00` (wrong length); nothing is executed.
    WrongLength,
    /// The reader refuses it: `Err(TransportError::LengthNotSupported)`; nothing is executed.
    TransportError,
}

/// The link's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    pub extended_length: bool,
    /// Largest response (data and SW1 SW2) the link delivers; a command whose `Le` + 2 exceeds it
    /// is [`Oversize`].
    pub max_response_len: usize,
    pub oversize: Oversize,
}

impl LinkConfig {
    /// Extended length up to 65,536 data bytes (the default: the card accepts extended `Le` on
    /// READ BINARY when the transport can carry it).
    pub const EXTENDED: Self = Self {
        extended_length: true,
        max_response_len: 65_538,
        oversize: Oversize::WrongLength,
    };
    /// Short APDUs only, 256 data bytes per response.
    pub const SHORT_ONLY: Self = Self {
        extended_length: false,
        max_response_len: 258,
        oversize: Oversize::WrongLength,
    };

    pub fn with_oversize(mut self, oversize: Oversize) -> Self {
        self.oversize = oversize;
        self
    }

    pub fn with_max_response_len(mut self, len: usize) -> Self {
        self.max_response_len = len;
        self
    }

    pub fn capabilities(&self) -> TransportCapabilities {
        TransportCapabilities {
            extended_length: self.extended_length,
            max_response_len: self.max_response_len,
        }
    }
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self::EXTENDED
    }
}

/// Which exchanges a fault hits. Exchanges are counted from 1 over every `transmit` call;
/// commands of one instruction are counted from 1 over the commands with that INS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Exchange(usize),
    NthCommand { ins: u8, n: usize },
    EveryCommand { ins: u8 },
}

impl When {
    pub(crate) fn matches(self, exchange: usize, ins: Option<u8>, ins_count: usize) -> bool {
        match self {
            When::Exchange(n) => exchange == n,
            When::NthCommand { ins: wanted, n } => ins == Some(wanted) && ins_count == n,
            When::EveryCommand { ins: wanted } => ins == Some(wanted),
        }
    }
}

/// A fault of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The card leaves the field before it receives the command: `Err(TagLost)`, nothing is
    /// executed. The card is then back, powered up afresh: no application selected, no PIN
    /// verified (counters, being in EEPROM, keep their values).
    TagLostBefore(When),
    /// The card executes the command (a PIN try may be spent, a signature made) but the answer
    /// is lost: `Err(TagLost)`, then the card is back as after [`Fault::TagLostBefore`].
    TagLostAfter(When),
    /// The card is gone from this exchange on: every later exchange is `Err(TagLost)`.
    Removed { from_exchange: usize },
    /// The response loses its last `bytes` bytes (the status word first), as with a transport
    /// that sizes its receive buffer from `Le` and forgets the two status bytes.
    Truncate { when: When, bytes: usize },
}
