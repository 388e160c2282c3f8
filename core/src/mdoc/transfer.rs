//! NFC data transfer (ISO/IEC 18013-5 §8.3.3.1.2): the mdoc application is selected by its AID,
//! then every session message travels in a BER-TLV `53` data object, sent with ENVELOPE
//! (`00 C3`, chained with CLA `10` when it does not fit one command) and received in the
//! ENVELOPE response plus GET RESPONSE (`00 C0`) while the phone answers `61 xx`.
//!
//! Extended length is used where both the reader's link and the phone's engagement allow it, so
//! a whole DeviceResponse with a portrait usually takes one or two commands instead of dozens.
//! [`NfcLink`] counts every APDU and byte, for the check's cost report and the benchmarks.

use super::engagement::NfcLimits;
use super::error::MdocError;
use crate::apdu::{Command, Le, MAX_EXTENDED_LE, MAX_SHORT_LE, Response};
use crate::reader::Counters;
use crate::transport::{CardTransport, TransportCapabilities, TransportError};

/// The mdoc application (18013-5 §8.3.3.1.2).
pub const MDOC_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x48, 0x04, 0x00];
/// Most bytes honnin accepts in one reassembled response: bounds a phone that never stops
/// answering `61 xx`.
pub const MAX_RESPONSE_LEN: usize = super::cbor::MAX_MESSAGE_LEN;
const INS_ENVELOPE: u8 = 0xC3;
const INS_GET_RESPONSE: u8 = 0xC0;
const TAG_DATA: u8 = 0x53;

/// A counting link to the phone.
pub struct NfcLink<T> {
    transport: T,
    limits: NfcLimits,
    counters: Counters,
}

impl<T: CardTransport> NfcLink<T> {
    pub fn new(transport: T) -> Self {
        Self {
            transport,
            limits: NfcLimits::SHORT,
            counters: Counters::default(),
        }
    }

    /// Takes the phone's limits from its engagement.
    pub fn set_limits(&mut self, limits: NfcLimits) {
        self.limits = limits;
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    fn extended(&self) -> bool {
        self.transport.capabilities().extended_length && self.limits.max_command_data > 255
    }

    fn send(&mut self, command: &Command, step: &'static str) -> Result<Response, MdocError> {
        let bytes = command
            .to_bytes()
            .map_err(|e| MdocError::malformed("command", e))?;
        self.counters.apdus += 1;
        self.counters.bytes_sent += bytes.len() as u64;
        let raw = self.transport.transmit(&bytes).inspect_err(|e| {
            if *e == TransportError::TagLost {
                self.counters.tag_losses += 1;
            }
        })?;
        self.counters.bytes_received += raw.len() as u64;
        Response::parse(&raw).map_err(|e| MdocError::malformed(step, e))
    }

    /// SELECT of the mdoc application.
    pub fn select_mdoc(&mut self) -> Result<(), MdocError> {
        let command = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(MDOC_AID.to_vec());
        let response = self.send(&command, "SELECT of the mdoc application")?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(MdocError::NotAnMdoc(
                "the mdoc application is not on this device",
            ))
        }
    }

    /// Sends one session message and returns the phone's answer (both without the `53` wrapper).
    pub fn exchange(&mut self, message: &[u8]) -> Result<Vec<u8>, MdocError> {
        let wrapped = wrap(message);
        let extended = self.extended();
        let chunk = if extended {
            self.limits.max_command_data.min(65_535)
        } else {
            255
        };
        let le_bytes = if extended {
            self.limits.max_response_data.min(MAX_EXTENDED_LE).min(
                self.transport
                    .capabilities()
                    .max_response_len
                    .saturating_sub(2),
            )
        } else {
            MAX_SHORT_LE
        };
        let le = Le::new(le_bytes.max(1)).unwrap_or(Le::short_max());
        let parts: Vec<&[u8]> = wrapped.chunks(chunk.max(1)).collect();
        let last = parts.len().saturating_sub(1);
        let mut answer = Vec::new();
        let mut status;
        for (i, part) in parts.iter().enumerate() {
            let chained = i < last;
            let mut command = Command::new(if chained { 0x10 } else { 0x00 }, INS_ENVELOPE, 0, 0)
                .with_data(part.to_vec());
            if !chained {
                command = command.with_le(le);
            }
            if extended {
                command = command.extended();
            }
            let response = self.send(&command, "ENVELOPE")?;
            status = response.status().0;
            if chained {
                if status != 0x9000 {
                    return Err(MdocError::Refused {
                        step: "a chained ENVELOPE",
                        status,
                    });
                }
                continue;
            }
            answer.extend_from_slice(response.data());
            while status >> 8 == 0x61 {
                if answer.len() > MAX_RESPONSE_LEN {
                    return Err(MdocError::TooLarge {
                        what: "response",
                        len: answer.len(),
                        max: MAX_RESPONSE_LEN,
                    });
                }
                let remaining = usize::from(status as u8);
                let get_le = if extended {
                    le
                } else if remaining == 0 {
                    Le::short_max()
                } else {
                    Le::new(remaining).unwrap_or(Le::short_max())
                };
                let mut get = Command::new(0x00, INS_GET_RESPONSE, 0, 0).with_le(get_le);
                if extended {
                    get = get.extended();
                }
                let response = self.send(&get, "GET RESPONSE")?;
                status = response.status().0;
                answer.extend_from_slice(response.data());
            }
            if status != 0x9000 {
                return Err(MdocError::Refused {
                    step: "ENVELOPE",
                    status,
                });
            }
        }
        unwrap(&answer)
    }
}

impl<T: CardTransport> CardTransport for NfcLink<T> {
    fn capabilities(&self) -> TransportCapabilities {
        self.transport.capabilities()
    }

    /// Counted, for the NDEF reads of the engagement.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.counters.apdus += 1;
        self.counters.bytes_sent += command.len() as u64;
        let raw = self.transport.transmit(command)?;
        self.counters.bytes_received += raw.len() as u64;
        Ok(raw)
    }
}

/// `53 <BER length> <message>`.
pub fn wrap(message: &[u8]) -> Vec<u8> {
    let len = message.len();
    let mut out = vec![TAG_DATA];
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        _ => out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(message);
    out
}

/// The message inside a `53` data object that must fill `bytes` exactly.
pub fn unwrap(bytes: &[u8]) -> Result<Vec<u8>, MdocError> {
    const WHAT: &str = "data object 53";
    let (&tag, rest) = bytes
        .split_first()
        .ok_or_else(|| MdocError::malformed(WHAT, "empty"))?;
    if tag != TAG_DATA {
        return Err(MdocError::malformed(WHAT, format!("tag {tag:02X}")));
    }
    let (&first, rest) = rest
        .split_first()
        .ok_or_else(|| MdocError::malformed(WHAT, "no length"))?;
    let (len, value) = match first {
        0..=0x7F => (usize::from(first), rest),
        0x81..=0x83 => {
            let n = usize::from(first - 0x80);
            if rest.len() < n {
                return Err(MdocError::malformed(WHAT, "truncated length"));
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |v, b| (v << 8) | usize::from(*b));
            (len, &rest[n..])
        }
        _ => return Err(MdocError::malformed(WHAT, "unsupported length form")),
    };
    if value.len() != len {
        return Err(MdocError::malformed(
            WHAT,
            format!("length {len} but {} bytes", value.len()),
        ));
    }
    Ok(value.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_objects_round_trip_at_every_length_form() {
        for len in [0usize, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000] {
            let message = vec![0xA5; len];
            assert_eq!(unwrap(&wrap(&message)).ok(), Some(message), "{len}");
        }
        assert!(unwrap(&[0x53, 0x82, 0x01]).is_err());
        assert!(unwrap(&[0x53, 0x02, 0x01]).is_err());
        assert!(unwrap(&[0x54, 0x00]).is_err());
        assert!(unwrap(&[]).is_err());
    }
}
