//! BER-TLV as the card uses it: headers read before the value has arrived, and children taken
//! with their exact encoded bytes (signatures cover the bytes as the card stored them, so they are
//! never re-encoded).
//!
//! `iso7816-tlv` decodes whole TLVs into trees but re-encodes on output and needs the whole value
//! up front; the card reader needs the header of a partly read EF, and the exact stored bytes of
//! each child (a signature covers them as stored), so this module reads spans itself.

use iso7816_tlv::ber::Tlv;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TlvError {
    #[error("TLV ends after {available} bytes, before its {needed}-byte header is complete")]
    IncompleteHeader { needed: usize, available: usize },
    #[error("TLV length field uses {0} bytes; at most 4 are supported")]
    LengthTooLong(usize),
    #[error("TLV uses the indefinite length form, which the card does not use")]
    IndefiniteLength,
    #[error("TLV tag is longer than 3 bytes")]
    TagTooLong,
    #[error("TLV value is {declared} bytes but only {available} bytes follow the header")]
    ValueTruncated { declared: usize, available: usize },
    #[error("expected tag {expected:04X}, found {found:04X}")]
    UnexpectedTag { expected: u32, found: u32 },
    #[error("required data object {0:04X} is missing")]
    Missing(u32),
    #[error("data object {0:04X} appears twice")]
    Duplicate(u32),
    #[error("malformed TLV: {0}")]
    Malformed(String),
}

/// Tag and length, as read from the start of an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvHeader {
    /// The tag's bytes as a big-endian number (e.g. `0xFF20`, `0x30`).
    pub tag: u32,
    /// Bytes taken by tag and length fields.
    pub header_len: usize,
    /// Bytes of the value.
    pub value_len: usize,
}

impl TlvHeader {
    /// Bytes of the whole TLV; `None` if that does not fit in `usize`.
    pub fn total_len(&self) -> Option<usize> {
        self.header_len.checked_add(self.value_len)
    }

    /// Parses the header at the start of `bytes`; the value need not be present.
    /// Also reads DER (certificates), whose headers are BER headers.
    pub fn parse(bytes: &[u8]) -> Result<Self, TlvError> {
        let incomplete = |needed| TlvError::IncompleteHeader {
            needed,
            available: bytes.len(),
        };
        let first = *bytes.first().ok_or(incomplete(2))?;
        let mut tag = first as u32;
        let mut pos = 1;
        if first & 0x1F == 0x1F {
            // Subsequent tag bytes have b8 set while more follow.
            loop {
                let b = *bytes.get(pos).ok_or(incomplete(pos + 2))?;
                tag = (tag << 8) | b as u32;
                pos += 1;
                if b & 0x80 == 0 {
                    break;
                }
                if pos >= 3 {
                    return Err(TlvError::TagTooLong);
                }
            }
        }
        let len_byte = *bytes.get(pos).ok_or(incomplete(pos + 1))?;
        pos += 1;
        let value_len = match len_byte {
            0x80 => return Err(TlvError::IndefiniteLength),
            l if l < 0x80 => l as usize,
            l => {
                let n = (l & 0x7F) as usize;
                if n > 4 {
                    return Err(TlvError::LengthTooLong(n));
                }
                let field = bytes.get(pos..pos + n).ok_or(incomplete(pos + n))?;
                pos += n;
                field.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize)
            }
        };
        Ok(Self {
            tag,
            header_len: pos,
            value_len,
        })
    }
}

/// One child of a container with its exact bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawTlv<'a> {
    pub tag: u32,
    /// The whole encoding: tag, length and value, as stored.
    pub encoded: &'a [u8],
    pub value: &'a [u8],
}

/// Splits `bytes` into consecutive TLVs, keeping each one's exact encoding.
///
/// Padding after the last TLV (`00` or `FF` bytes, as EFs are fixed-size) is ignored.
pub fn split(bytes: &[u8]) -> Result<Vec<RawTlv<'_>>, TlvError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.iter().all(|b| *b == 0x00 || *b == 0xFF) {
            break;
        }
        let header = TlvHeader::parse(rest)?;
        let total =
            header
                .total_len()
                .filter(|t| *t <= rest.len())
                .ok_or(TlvError::ValueTruncated {
                    declared: header.value_len,
                    available: rest.len().saturating_sub(header.header_len),
                })?;
        let (encoded, tail) = rest.split_at(total);
        // iso7816-tlv decodes the element as a whole, nested children of constructed tags
        // included; a malformed child is an error here, not later.
        let (decoded, leftover) = Tlv::parse(encoded);
        decoded.map_err(|e| TlvError::Malformed(format!("{e:?}")))?;
        if !leftover.is_empty() {
            return Err(TlvError::Malformed(format!(
                "data object {:04X} has {} bytes its length does not account for",
                header.tag,
                leftover.len()
            )));
        }
        out.push(RawTlv {
            tag: header.tag,
            encoded,
            value: &encoded[header.header_len..],
        });
        rest = tail;
    }
    Ok(out)
}

/// Opens a single outer TLV with the expected tag and returns its value bytes.
pub fn unwrap_single(bytes: &[u8], expected: u32) -> Result<&[u8], TlvError> {
    let header = TlvHeader::parse(bytes)?;
    if header.tag != expected {
        return Err(TlvError::UnexpectedTag {
            expected,
            found: header.tag,
        });
    }
    let end = header
        .total_len()
        .filter(|t| *t <= bytes.len())
        .ok_or(TlvError::ValueTruncated {
            declared: header.value_len,
            available: bytes.len().saturating_sub(header.header_len),
        })?;
    Ok(&bytes[header.header_len..end])
}

/// Children of a container, looked up by tag.
#[derive(Debug, Clone)]
pub struct Children<'a> {
    items: Vec<RawTlv<'a>>,
}

impl<'a> Children<'a> {
    /// Parses the value of a container whose children must each appear at most once.
    pub fn parse(value: &'a [u8]) -> Result<Self, TlvError> {
        let items = split(value)?;
        for (i, item) in items.iter().enumerate() {
            if items[..i].iter().any(|earlier| earlier.tag == item.tag) {
                return Err(TlvError::Duplicate(item.tag));
            }
        }
        Ok(Self { items })
    }

    pub fn get(&self, tag: u32) -> Option<&RawTlv<'a>> {
        self.items.iter().find(|item| item.tag == tag)
    }

    pub fn require(&self, tag: u32) -> Result<&RawTlv<'a>, TlvError> {
        self.get(tag).ok_or(TlvError::Missing(tag))
    }

    pub fn items(&self) -> &[RawTlv<'a>] {
        &self.items
    }
}

/// Encodes one TLV (DER-minimal length) with a numeric tag of 1–3 bytes. Constructed tags take
/// their children's encodings as `value`.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = tag
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    if out.is_empty() {
        out.push(0);
    }
    let len = value.len();
    let len_bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.push(0x80 | len_bytes.len() as u8);
        out.extend_from_slice(&len_bytes);
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_certificate_header() {
        let header = TlvHeader::parse(&[0x30, 0x82, 0x04, 0x1A, 0x30]).expect("parses");
        assert_eq!(header.tag, 0x30);
        assert_eq!(header.header_len, 4);
        assert_eq!(header.value_len, 0x041A);
        assert_eq!(header.total_len(), Some(0x041E));
    }

    #[test]
    fn two_byte_tag_header() {
        let header = TlvHeader::parse(&[0xFF, 0x20, 0x81, 0x90]).expect("parses");
        assert_eq!(header.tag, 0xFF20);
        assert_eq!(header.header_len, 4);
        assert_eq!(header.value_len, 0x90);
    }

    #[test]
    fn incomplete_header_says_how_much_is_needed() {
        assert_eq!(
            TlvHeader::parse(&[0x30, 0x82, 0x04]),
            Err(TlvError::IncompleteHeader {
                needed: 4,
                available: 3
            })
        );
        assert_eq!(
            TlvHeader::parse(&[]),
            Err(TlvError::IncompleteHeader {
                needed: 2,
                available: 0
            })
        );
    }

    #[test]
    fn split_keeps_exact_bytes_and_skips_padding() {
        // DF22 with a non-minimal length form (81 02) must keep that form.
        let bytes = [
            0xDF, 0x22, 0x81, 0x02, b'a', b'b', 0xDF, 0x23, 0x01, b'1', 0xFF, 0xFF,
        ];
        let items = split(&bytes).expect("splits");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].encoded, &bytes[..6]);
        assert_eq!(items[0].value, b"ab");
        assert_eq!(items[1].tag, 0xDF23);
    }

    #[test]
    fn split_rejects_truncated_value() {
        assert_eq!(
            split(&[0xDF, 0x22, 0x05, 1, 2]),
            Err(TlvError::ValueTruncated {
                declared: 5,
                available: 2
            })
        );
    }

    #[test]
    fn duplicates_are_rejected() {
        let bytes = [0xDF, 0x22, 0x01, 1, 0xDF, 0x22, 0x01, 2];
        assert_eq!(
            Children::parse(&bytes).map(|_| ()),
            Err(TlvError::Duplicate(0xDF22))
        );
    }

    #[test]
    fn encode_is_minimal_der_length() {
        assert_eq!(
            encode(0xDF31, &[0xAA; 3]),
            vec![0xDF, 0x31, 0x03, 0xAA, 0xAA, 0xAA]
        );
        assert_eq!(encode(0x81, &[0u8; 200])[..3], [0x81, 0x81, 200]);
        assert_eq!(
            encode(0x7F21, &[0u8; 300])[..5],
            [0x7F, 0x21, 0x82, 0x01, 0x2C]
        );
        let encoded = encode(0x5F4E, &[1, 2, 3]);
        let parsed = Tlv::from_bytes(&encoded).expect("iso7816-tlv reads it back");
        assert_eq!(parsed.to_vec(), encoded);
    }

    proptest::proptest! {
        /// Any sequence of encoded TLVs splits back into the same tags, values and exact bytes,
        /// and every header reports the length its encoding carries.
        #[test]
        fn encode_then_split_round_trips(
            items in proptest::collection::vec(
                (proptest::sample::select(vec![0x81u32, 0x82, 0xDF21, 0xDF27, 0x5F4E, 0x5F37]),
                 proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)),
                0..6,
            )
        ) {
            let encoded: Vec<Vec<u8>> = items.iter().map(|(tag, value)| encode(*tag, value)).collect();
            let joined = encoded.concat();
            let parsed = split(&joined).expect("splits");
            proptest::prop_assert_eq!(parsed.len(), items.len());
            for ((item, (tag, value)), bytes) in parsed.iter().zip(&items).zip(&encoded) {
                proptest::prop_assert_eq!(item.tag, *tag);
                proptest::prop_assert_eq!(item.value, value.as_slice());
                proptest::prop_assert_eq!(item.encoded, bytes.as_slice());
                let header = TlvHeader::parse(bytes).expect("header");
                proptest::prop_assert_eq!(header.total_len(), Some(bytes.len()));
            }
        }

        /// Any prefix of a valid encoding is either a clean error or a shorter valid split;
        /// never a panic, never a span past the input.
        #[test]
        fn truncated_input_never_overreads(value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), cut in 0usize..410) {
            let encoded = encode(0xDF22, &value);
            let cut = cut.min(encoded.len());
            if let Ok(items) = split(&encoded[..cut]) {
                for item in items {
                    proptest::prop_assert!(item.encoded.len() <= cut);
                }
            }
        }
    }

    #[test]
    fn constructed_child_with_broken_grandchild_is_rejected() {
        // 7F21 says 3 bytes follow, and they claim a 5F4E of 9 bytes.
        let bytes = [0x7F, 0x21, 0x03, 0x5F, 0x4E, 0x09];
        assert!(split(&bytes).is_err());
    }
}
