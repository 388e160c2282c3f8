//! NFC static handover (ISO/IEC 18013-5 §8.2.2.1): the phone is an NFC Forum Type 4 Tag whose
//! NDEF file holds a Handover Select message; one of its records carries the DeviceEngagement.
//!
//! [`read_handover_select`] reads that file through the same [`CardTransport`] the data transfer
//! uses (SELECT of the NDEF application, the capability container, the NDEF file), and
//! [`parse_message`] splits it into records. Both take hostile input: lengths are bounded and
//! checked, chunked records are refused, nothing panics.

use super::error::MdocError;
use crate::apdu::{Command, Le, Response};
use crate::transport::CardTransport;

/// The NDEF Tag Application (NFC Forum Type 4 Tag, v2.0).
pub const NDEF_AID: [u8; 7] = [0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01];
/// The capability container file.
const CC_FILE: [u8; 2] = [0xE1, 0x03];
/// Largest NDEF file honnin reads: a Handover Select message is well under 1 KB.
pub const MAX_NDEF_LEN: usize = 4096;
/// Most records honnin looks at in one message.
const MAX_RECORDS: usize = 16;

/// The external-type record that holds the DeviceEngagement.
pub const TYPE_DEVICE_ENGAGEMENT: &[u8] = b"iso.org:18013:deviceengagement";
/// The external-type record that configures the NFC carrier (maximum APDU data lengths).
pub const TYPE_NFC_CARRIER: &[u8] = b"iso.org:18013:nfc";
/// The well-known type of the Handover Select record.
pub const TYPE_HANDOVER_SELECT: &[u8] = b"Hs";

/// TNF values (NFC Forum NDEF 1.0 §3.2.6) honnin uses.
pub const TNF_WELL_KNOWN: u8 = 0x01;
pub const TNF_EXTERNAL: u8 = 0x04;

/// One NDEF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdefRecord {
    pub tnf: u8,
    pub record_type: Vec<u8>,
    pub id: Vec<u8>,
    pub payload: Vec<u8>,
}

impl NdefRecord {
    /// Encodes the record; `first`/`last` set the MB/ME flags. Short form when the payload fits.
    pub fn encode(&self, first: bool, last: bool) -> Vec<u8> {
        let short = self.payload.len() < 256;
        let mut header = self.tnf & 0x07;
        if first {
            header |= 0x80;
        }
        if last {
            header |= 0x40;
        }
        if short {
            header |= 0x10;
        }
        if !self.id.is_empty() {
            header |= 0x08;
        }
        let mut out = vec![header, self.record_type.len() as u8];
        if short {
            out.push(self.payload.len() as u8);
        } else {
            out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        }
        if !self.id.is_empty() {
            out.push(self.id.len() as u8);
        }
        out.extend_from_slice(&self.record_type);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.payload);
        out
    }
}

/// Encodes records as one NDEF message.
pub fn encode_message(records: &[NdefRecord]) -> Vec<u8> {
    let last = records.len().saturating_sub(1);
    records
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.encode(i == 0, i == last))
        .collect()
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], MdocError> {
    if input.len() < n {
        return Err(MdocError::malformed(
            "NDEF message",
            "a record runs past the end",
        ));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn byte(input: &mut &[u8]) -> Result<u8, MdocError> {
    Ok(take(input, 1)?[0])
}

/// Splits an NDEF message into its records.
pub fn parse_message(message: &[u8]) -> Result<Vec<NdefRecord>, MdocError> {
    if message.len() > MAX_NDEF_LEN {
        return Err(MdocError::TooLarge {
            what: "NDEF message",
            len: message.len(),
            max: MAX_NDEF_LEN,
        });
    }
    let mut input = message;
    let mut records = Vec::new();
    while !input.is_empty() {
        if records.len() == MAX_RECORDS {
            return Err(MdocError::malformed("NDEF message", "too many records"));
        }
        let header = byte(&mut input)?;
        if header & 0x20 != 0 {
            return Err(MdocError::malformed(
                "NDEF message",
                "chunked records are not used by 18013-5",
            ));
        }
        let type_len = usize::from(byte(&mut input)?);
        let payload_len = if header & 0x10 != 0 {
            usize::from(byte(&mut input)?)
        } else {
            let raw = take(&mut input, 4)?;
            u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize
        };
        let id_len = if header & 0x08 != 0 {
            usize::from(byte(&mut input)?)
        } else {
            0
        };
        let record_type = take(&mut input, type_len)?.to_vec();
        let id = take(&mut input, id_len)?.to_vec();
        let payload = take(&mut input, payload_len)?.to_vec();
        records.push(NdefRecord {
            tnf: header & 0x07,
            record_type,
            id,
            payload,
        });
        if header & 0x40 != 0 {
            break;
        }
    }
    if !input.is_empty() {
        return Err(MdocError::malformed(
            "NDEF message",
            "bytes after the last record",
        ));
    }
    Ok(records)
}

fn send<T: CardTransport>(
    transport: &mut T,
    command: Command,
    step: &'static str,
) -> Result<Vec<u8>, MdocError> {
    let bytes = command
        .to_bytes()
        .map_err(|e| MdocError::malformed("command", e))?;
    let raw = transport.transmit(&bytes)?;
    let response = Response::parse(&raw).map_err(|e| MdocError::malformed("response", e))?;
    if !response.status().is_success() {
        return Err(MdocError::Refused {
            step,
            status: response.status().0,
        });
    }
    Ok(response.into_data())
}

fn read_binary<T: CardTransport>(
    transport: &mut T,
    offset: usize,
    len: usize,
) -> Result<Vec<u8>, MdocError> {
    let le = Le::new(len).ok_or(MdocError::malformed("NDEF file", "bad read length"))?;
    let command = Command::new(0x00, 0xB0, (offset >> 8) as u8, offset as u8).with_le(le);
    let data = send(transport, command, "READ BINARY of the NDEF file")?;
    if data.len() != len {
        return Err(MdocError::malformed(
            "NDEF file",
            format!("asked for {len} bytes, got {}", data.len()),
        ));
    }
    Ok(data)
}

/// Reads the NDEF message of a Type 4 Tag: the Handover Select message of a phone that offers
/// NFC engagement. Reads in chunks no longer than the tag's MLe and 255 bytes.
pub fn read_handover_select<T: CardTransport>(transport: &mut T) -> Result<Vec<u8>, MdocError> {
    let select = Command::new(0x00, 0xA4, 0x04, 0x00)
        .with_data(NDEF_AID.to_vec())
        .with_le(Le::short_max());
    send(transport, select, "SELECT of the NDEF application")
        .map_err(|_| MdocError::NotAnMdoc("no NDEF application (no NFC engagement)"))?;
    let select_file = |fid: [u8; 2]| Command::new(0x00, 0xA4, 0x00, 0x0C).with_data(fid.to_vec());
    send(
        transport,
        select_file(CC_FILE),
        "SELECT of the capability container",
    )?;
    let cc = read_binary(transport, 0, 15)?;
    // CC: CCLEN(2) version(1) MLe(2) MLc(2) then the NDEF File Control TLV 04 06 FID(2) size(2) r w.
    if cc[7] != 0x04 || cc[8] != 0x06 {
        return Err(MdocError::malformed(
            "capability container",
            "no NDEF file control TLV",
        ));
    }
    let mle = usize::from(u16::from_be_bytes([cc[3], cc[4]])).clamp(15, 255);
    let fid = [cc[9], cc[10]];
    send(transport, select_file(fid), "SELECT of the NDEF file")?;
    let nlen_bytes = read_binary(transport, 0, 2)?;
    let nlen = usize::from(u16::from_be_bytes([nlen_bytes[0], nlen_bytes[1]]));
    if nlen == 0 || nlen > MAX_NDEF_LEN {
        return Err(MdocError::TooLarge {
            what: "NDEF file",
            len: nlen,
            max: MAX_NDEF_LEN,
        });
    }
    let mut message = Vec::with_capacity(nlen);
    while message.len() < nlen {
        let chunk = (nlen - message.len()).min(mle);
        message.extend(read_binary(transport, 2 + message.len(), chunk)?);
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_in_short_and_long_form() {
        let records = vec![
            NdefRecord {
                tnf: TNF_WELL_KNOWN,
                record_type: TYPE_HANDOVER_SELECT.to_vec(),
                id: vec![],
                payload: vec![0x15],
            },
            NdefRecord {
                tnf: TNF_EXTERNAL,
                record_type: TYPE_DEVICE_ENGAGEMENT.to_vec(),
                id: b"mdoc".to_vec(),
                payload: vec![7; 300],
            },
        ];
        let message = encode_message(&records);
        assert_eq!(parse_message(&message), Ok(records));
    }

    #[test]
    fn truncated_or_chunked_messages_are_typed_errors() {
        let record = NdefRecord {
            tnf: TNF_EXTERNAL,
            record_type: b"x".to_vec(),
            id: vec![],
            payload: vec![1, 2, 3],
        };
        let message = encode_message(&[record]);
        for cut in 0..message.len() {
            if cut == 0 {
                continue;
            }
            assert!(parse_message(&message[..cut]).is_err(), "cut {cut}");
        }
        let mut chunked = message.clone();
        chunked[0] |= 0x20;
        assert!(parse_message(&chunked).is_err());
    }
}
