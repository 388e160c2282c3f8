//! The software card: state, the record of what it was asked, and the transport it offers.

use std::collections::{BTreeSet, HashMap};

use honnin_core::apdu::{Command, StatusWord};
use honnin_core::card::profile::{aid, card_face, input_support, ins, jpki};
use honnin_core::transport::{CardTransport, TransportCapabilities, TransportError};

use crate::filesystem::Application;
use crate::holder::Holder;
use crate::link::{Fault, LinkConfig, Oversize};
use crate::pin::PinId;

/// One command the card was sent. Command data (PINs, 照合番号B, digests) is never recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// 1-based count over every `transmit` call.
    pub exchange: usize,
    /// The application the command addressed: for SELECT by AID the AID asked for, otherwise the
    /// application current when it arrived.
    pub aid: Option<Vec<u8>>,
    /// For SELECT of an EF the FID asked for, otherwise the EF current when it arrived.
    pub fid: Option<u16>,
    pub ins: u8,
    /// The card's answer; `None` when the card never executed the command (a link fault or a
    /// command the link could not carry) or when it was executed but the answer was lost.
    pub status: Option<StatusWord>,
}

/// Counts for the benchmark's time model (card-model.md): APDUs, bytes on the air, on-card RSA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardStats {
    pub exchanges: usize,
    pub command_bytes: usize,
    pub response_bytes: usize,
    /// COMPUTE DIGITAL SIGNATURE and INTERNAL AUTHENTICATE that produced a signature.
    pub rsa_operations: usize,
}

/// What a test needs to know to use a card of a given profile: its holder data as the card
/// states it, and its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFacts {
    pub profile: String,
    pub holder: Holder,
    /// The 14 digits this chip accepts as 照合番号B (printed on the card face).
    pub matching_number_b: String,
    pub auth_pin: &'static str,
    pub sign_password: &'static str,
    pub input_support_pin: &'static str,
}

/// A My Number Card in software. Build one with [`crate::Profile::build`].
pub struct SoftwareCard {
    pub(crate) apps: Vec<Application>,
    pub(crate) current_app: Option<usize>,
    pub(crate) current_ef: Option<u16>,
    /// PIN EFs of the current application verified since it was selected.
    pub(crate) verified: BTreeSet<u16>,
    pub(crate) internal_auth_supported: bool,
    /// What the chip answers to INTERNAL AUTHENTICATE when it does not sign (`6D 00` by default).
    pub(crate) internal_auth_refusal: StatusWord,
    pub(crate) link: LinkConfig,
    pub(crate) faults: Vec<Fault>,
    pub(crate) log: Vec<LogEntry>,
    pub(crate) stats: CardStats,
    pub(crate) ins_counts: HashMap<u8, usize>,
    pub(crate) facts: CardFacts,
    /// The allowed behaviour this card differs in from the default one, if any.
    pub(crate) variation: Option<crate::variations::Variation>,
    /// Data held back behind a `61 xx` until GET RESPONSE (the more-data variation).
    pub(crate) pending: crate::variations::PendingResponse,
}

impl std::fmt::Debug for SoftwareCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareCard")
            .field("profile", &self.facts.profile)
            .field("link", &self.link)
            .field("exchanges", &self.stats.exchanges)
            .finish_non_exhaustive()
    }
}

impl PinId {
    fn location(self) -> ([u8; 10], u16) {
        match self {
            PinId::Auth => (aid::JPKI, jpki::AUTH_PIN),
            PinId::Sign => (aid::JPKI, jpki::SIGN_PIN),
            PinId::InputSupport => (aid::INPUT_SUPPORT, input_support::PIN),
            PinId::MatchingNumberB => (aid::CARD_FACE, card_face::MATCHING_NUMBER_B),
            PinId::MatchingNumberA => (aid::CARD_FACE, card_face::MATCHING_NUMBER_A_NEVER_USED),
        }
    }
}

impl SoftwareCard {
    pub fn with_link(mut self, link: LinkConfig) -> Self {
        self.link = link;
        self
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Whether the chip answers INTERNAL AUTHENTICATE (otherwise `6D 00`).
    pub fn with_internal_auth(mut self, supported: bool) -> Self {
        self.internal_auth_supported = supported;
        self
    }

    /// The status word the chip answers instead of signing, for a chip without INTERNAL
    /// AUTHENTICATE (a clone may claim any of `6D 00`, `6E 00`, `6A 81`, …).
    pub fn with_internal_auth_refusal(mut self, status: StatusWord) -> Self {
        self.internal_auth_supported = false;
        self.internal_auth_refusal = status;
        self
    }

    pub fn facts(&self) -> &CardFacts {
        &self.facts
    }

    pub fn link(&self) -> LinkConfig {
        self.link
    }

    /// Every command received, in order.
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    pub fn stats(&self) -> CardStats {
        self.stats
    }

    /// Whether a SELECT of `fid` was ever sent while `app` was the current application
    /// (successful or not): e.g. input-support EF 0001 and card-face EF 0013 must never be.
    pub fn was_selected(&self, app: &[u8; 10], fid: u16) -> bool {
        self.log.iter().any(|e| {
            e.ins == ins::SELECT && e.fid == Some(fid) && e.aid.as_deref() == Some(&app[..])
        })
    }

    /// Whether a command with this INS was ever sent to `app`.
    pub fn was_sent(&self, app: &[u8; 10], instruction: u8) -> bool {
        self.log
            .iter()
            .any(|e| e.ins == instruction && e.aid.as_deref() == Some(&app[..]))
    }

    /// AIDs in the order they were selected (successful or not).
    pub fn selected_aids(&self) -> Vec<Vec<u8>> {
        self.log
            .iter()
            .filter(|e| e.ins == ins::SELECT && e.fid.is_none())
            .filter_map(|e| e.aid.clone())
            .collect()
    }

    fn app(&self, aid: &[u8; 10]) -> Option<&Application> {
        self.apps.iter().find(|a| &a.aid == aid)
    }

    fn app_mut(&mut self, aid: &[u8; 10]) -> Option<&mut Application> {
        self.apps.iter_mut().find(|a| &a.aid == aid)
    }

    /// Tries left of a PIN.
    pub fn tries_left(&self, pin: PinId) -> Option<u8> {
        let (aid, fid) = pin.location();
        self.app(&aid)?.pin_ref(fid).map(|p| p.tries_left())
    }

    /// Sets a PIN's counter (capped at its maximum), e.g. to stage a nearly locked card.
    pub fn set_tries_left(&mut self, pin: PinId, tries: u8) {
        let (aid, fid) = pin.location();
        if let Some(p) = self.app_mut(&aid).and_then(|a| a.pin_mut(fid)) {
            p.set_tries_left(tries);
        }
    }

    /// The content of a binary EF, for tests that compare what a reader got with what the card
    /// holds.
    pub fn ef(&self, aid: &[u8; 10], fid: u16) -> Option<&[u8]> {
        self.app(aid)?.content(fid)
    }

    /// The card leaves the field and comes back: selection and security state are lost.
    pub fn power_cycle(&mut self) {
        self.current_app = None;
        self.current_ef = None;
        self.verified.clear();
        self.pending = Default::default();
    }

    fn fault_hits(&self, exchange: usize, ins: Option<u8>, count: usize) -> FaultHits {
        let mut hits = FaultHits::default();
        for fault in &self.faults {
            match *fault {
                Fault::TagLostBefore(when) if when.matches(exchange, ins, count) => {
                    hits.lost_before = true
                }
                Fault::TagLostAfter(when) if when.matches(exchange, ins, count) => {
                    hits.lost_after = true
                }
                Fault::Removed { from_exchange } if exchange >= from_exchange => {
                    hits.lost_before = true
                }
                Fault::Truncate { when, bytes } if when.matches(exchange, ins, count) => {
                    hits.truncate += bytes
                }
                _ => {}
            }
        }
        hits
    }

    fn log_entry(&self, exchange: usize, command: Option<&Command>) -> LogEntry {
        let current_aid = self.current_app.map(|i| self.apps[i].aid.to_vec());
        let (aid, fid) = match command {
            Some(c) if c.ins == ins::SELECT && c.p1 == ins::P1_SELECT_AID => {
                (Some(c.data().to_vec()), None)
            }
            Some(c) if c.ins == ins::SELECT && c.p1 == ins::P1_SELECT_EF => {
                let fid = <[u8; 2]>::try_from(c.data()).ok().map(u16::from_be_bytes);
                (current_aid, fid)
            }
            _ => (current_aid, self.current_ef),
        };
        LogEntry {
            exchange,
            aid,
            fid,
            ins: command.map_or(0, |c| c.ins),
            status: None,
        }
    }

    /// Whether the link can carry this command and its answer.
    fn link_refuses(&self, command: &Command) -> bool {
        let too_long = command
            .le()
            .is_some_and(|le| le.bytes() + 2 > self.link.max_response_len);
        (command.is_extended() && !self.link.extended_length) || too_long
    }
}

#[derive(Default)]
struct FaultHits {
    lost_before: bool,
    lost_after: bool,
    truncate: usize,
}

impl crate::vpcd::VirtualCard for SoftwareCard {
    fn reset(&mut self) {
        self.power_cycle();
    }
}

impl CardTransport for SoftwareCard {
    fn capabilities(&self) -> TransportCapabilities {
        self.link.capabilities()
    }

    fn transmit(&mut self, bytes: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.stats.exchanges += 1;
        self.stats.command_bytes += bytes.len();
        let exchange = self.stats.exchanges;
        let command = Command::parse(bytes).ok();
        let ins = command.as_ref().map(|c| c.ins);
        let count = match ins {
            Some(i) => {
                let n = self.ins_counts.entry(i).or_default();
                *n += 1;
                *n
            }
            None => 0,
        };
        let hits = self.fault_hits(exchange, ins, count);
        let mut entry = self.log_entry(exchange, command.as_ref());

        if hits.lost_before {
            self.log.push(entry);
            self.power_cycle();
            return Err(TransportError::TagLost);
        }
        let response = match &command {
            Some(c) if self.link_refuses(c) => match self.link.oversize {
                Oversize::TransportError => {
                    self.log.push(entry);
                    return Err(TransportError::LengthNotSupported);
                }
                Oversize::WrongLength => {
                    honnin_core::apdu::Response::new(Vec::new(), StatusWord::WRONG_LENGTH)
                }
            },
            Some(c) => self.execute_varied(c),
            None => honnin_core::apdu::Response::new(Vec::new(), StatusWord::WRONG_LENGTH),
        };
        if hits.lost_after {
            self.log.push(entry);
            self.power_cycle();
            return Err(TransportError::TagLost);
        }
        entry.status = Some(response.status());
        self.log.push(entry);
        let mut out = response.to_bytes();
        out.truncate(out.len().saturating_sub(hits.truncate));
        self.stats.response_bytes += out.len();
        Ok(out)
    }
}
