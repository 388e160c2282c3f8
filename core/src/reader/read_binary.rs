//! READ BINARY of a whole EF, sized by the EF's own header.
//!
//! There is no FCI on this card, so the size of a TLV/DER EF is learned from its first bytes. The
//! first READ BINARY asks for a full chunk: small EFs come in one APDU, large ones continue at the
//! offset where the first answer stopped, asking only for what the header says is left.

use super::{CardError, CardSession, ReadEvent};
use crate::apdu::{CardStatus, Command, Le, MAX_EXTENDED_LE, MAX_SHORT_LE};
use crate::card::profile::ins;
use crate::tlv::{TlvError, TlvHeader};
use crate::transport::{CardTransport, TransportError};

/// Short Le values tried in turn when a link refuses larger responses.
const SHORT_LE_STEPS: [usize; 7] = [256, 224, 160, 128, 96, 64, 32];
/// READ BINARY with P1 b8 = 0 addresses offsets up to 15 bits.
const MAX_OFFSET: usize = 0x7FFF;

/// How the length of an EF is known.
#[derive(Debug, Clone, Copy)]
enum Extent {
    /// From the TLV/DER header at the start of the EF.
    Header,
    /// A fixed-size EF (for example the 32-byte JPKI token).
    Fixed(usize),
}

impl<T: CardTransport> CardSession<T> {
    /// Selects `ef` in the current application and reads the one TLV (or DER object) it holds,
    /// exactly: header plus declared value, nothing past it.
    pub(crate) fn read_tlv_ef(&mut self, ef: u16) -> Result<Vec<u8>, CardError> {
        self.select_ef(ef)?;
        self.read_selected(ef, Extent::Header)
    }

    /// Selects `ef` and reads its first `len` bytes.
    pub(crate) fn read_fixed_ef(&mut self, ef: u16, len: usize) -> Result<Vec<u8>, CardError> {
        self.select_ef(ef)?;
        self.read_selected(ef, Extent::Fixed(len))
    }

    /// The most this session asks for in one READ BINARY.
    fn chunk_limit(&self) -> usize {
        let link = self.capabilities.max_response_len.saturating_sub(2).max(1);
        if self.extended_enabled {
            link.min(MAX_EXTENDED_LE)
        } else {
            link.min(self.short_le).min(MAX_SHORT_LE)
        }
    }

    /// After the link or card refused `failed` bytes: stop using extended length, or take the
    /// next smaller short Le. Errors when there is nothing smaller to try.
    fn reduce_chunk(&mut self, failed: usize) -> Result<(), CardError> {
        if self.extended_enabled && failed > MAX_SHORT_LE {
            self.extended_enabled = false;
            self.emit(ReadEvent::ExtendedLengthDisabled);
            return Ok(());
        }
        let ceiling = failed.min(self.short_le);
        let next = SHORT_LE_STEPS
            .iter()
            .copied()
            .find(|step| *step < ceiling)
            .ok_or(CardError::ResponseSizeUnsupported { limit: failed })?;
        self.emit(ReadEvent::ResponseSizeReduced {
            from: self.short_le,
            to: next,
        });
        self.short_le = next;
        self.extended_enabled = false;
        Ok(())
    }

    fn read_selected(&mut self, ef: u16, extent: Extent) -> Result<Vec<u8>, CardError> {
        let mut data: Vec<u8> = Vec::new();
        let mut total = match extent {
            Extent::Fixed(len) => Some(len),
            Extent::Header => None,
        };
        let mut card_hint: Option<usize> = None;
        let truncated = |expected: usize, got: usize| CardError::Truncated { ef, expected, got };

        loop {
            if let Some(total) = total
                && data.len() >= total
            {
                data.truncate(total);
                return Ok(data);
            }
            let offset = data.len();
            if offset > MAX_OFFSET {
                return Err(CardError::Malformed {
                    operation: "READ BINARY",
                    detail: format!(
                        "file {ef:04X} declares more than the {MAX_OFFSET} bytes READ BINARY can address"
                    ),
                });
            }
            let limit = self.chunk_limit();
            let want = card_hint
                .take()
                .unwrap_or_else(|| total.map_or(limit, |t| limit.min(t - offset)));
            let command = read_binary_command(offset, want)?;

            let response = match self.transmit_resumable(&command, offset) {
                Ok(response) => response,
                Err(CardError::Transport(
                    TransportError::LengthNotSupported
                    | TransportError::Timeout
                    | TransportError::Reader(_),
                )) => {
                    self.reduce_chunk(want)?;
                    continue;
                }
                Err(e) => return Err(e),
            };

            let status = response.status().decode();
            match status {
                CardStatus::Success | CardStatus::EndOfFileReached => {}
                CardStatus::WrongLength {
                    correct_le: Some(n),
                } if n < want => {
                    card_hint = Some(n);
                    continue;
                }
                CardStatus::WrongLength { .. } => {
                    self.reduce_chunk(want)?;
                    continue;
                }
                // Offset past the end of the EF: the header promised more than the file holds.
                CardStatus::WrongParameters if offset > 0 => {
                    return Err(truncated(total.unwrap_or(offset), offset));
                }
                _ => return Err(CardError::refused("READ BINARY", response.status())),
            }

            let received = response.data();
            if received.len() > want {
                return Err(CardError::Malformed {
                    operation: "READ BINARY",
                    detail: format!("asked for {want} bytes, the card sent {}", received.len()),
                });
            }
            data.extend_from_slice(received);
            let file_ended = status == CardStatus::EndOfFileReached || received.is_empty();

            if total.is_none() {
                match TlvHeader::parse(&data) {
                    Ok(header) => {
                        let declared = header.total_len().ok_or(CardError::MalformedTlv {
                            operation: "READ BINARY",
                            source: TlvError::LengthTooLong(8),
                        })?;
                        total = Some(declared);
                    }
                    Err(TlvError::IncompleteHeader { .. }) if !file_ended => {}
                    Err(source) => {
                        return Err(CardError::MalformedTlv {
                            operation: "READ BINARY",
                            source,
                        });
                    }
                }
            }
            self.emit(ReadEvent::Progress {
                ef,
                read: data.len().min(total.unwrap_or(usize::MAX)),
                total,
            });
            if file_ended {
                return match total {
                    Some(t) if data.len() >= t => {
                        data.truncate(t);
                        Ok(data)
                    }
                    Some(t) => Err(truncated(t, data.len())),
                    None => Err(truncated(0, data.len())),
                };
            }
        }
    }
}

/// The short Le the engine settles on for a card that accepts at most `limit` bytes.
#[cfg(test)]
pub(super) fn smallest_step_at_most(limit: usize) -> usize {
    if limit > MAX_SHORT_LE {
        return limit;
    }
    SHORT_LE_STEPS
        .iter()
        .copied()
        .find(|step| *step <= limit)
        .unwrap_or(1)
}

fn read_binary_command(offset: usize, want: usize) -> Result<Command, CardError> {
    let le = Le::new(want).ok_or(CardError::Malformed {
        operation: "READ BINARY",
        detail: format!("cannot ask for {want} bytes"),
    })?;
    let [hi, lo] = (offset as u16).to_be_bytes();
    Ok(Command::new(0x00, ins::READ_BINARY, hi, lo).with_le(le))
}
