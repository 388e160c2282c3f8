//! BER-TLV encoding as the card stores its data objects.
//!
//! The software card writes its EFs with this encoder, which is deliberately separate from the
//! product's decoder in `honnin-core`: a bug shared by both sides would otherwise go unnoticed.

/// Encodes a tag: one byte for tags up to `0xFF` (`81`, `82`), two bytes otherwise (`DF21`,
/// `FF20`, `7F21`, `5F4E`). Every tag the card model uses fits these two forms.
pub fn encode_tag(tag: u16, out: &mut Vec<u8>) {
    if tag > 0xFF {
        out.extend_from_slice(&tag.to_be_bytes());
    } else {
        out.push(tag as u8);
    }
}

/// Encodes a definite length in the shortest BER form.
///
/// Values above 65,535 bytes never occur on the card (an EF is at most 32 KB), so three forms
/// suffice: `0x00..=0x7F`, `81 xx`, `82 xx xx`.
pub fn encode_len(len: usize, out: &mut Vec<u8>) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        _ => {
            let len = u16::try_from(len).unwrap_or(u16::MAX);
            out.push(0x82);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

/// One encoded TLV.
pub fn tlv(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    encode_tag(tag, &mut out);
    encode_len(value.len(), &mut out);
    out.extend_from_slice(value);
    out
}

/// Bytes the tag and length of a TLV with this tag and value length take.
pub fn header_len(tag: u16, value_len: usize) -> usize {
    let mut scratch = Vec::with_capacity(5);
    encode_tag(tag, &mut scratch);
    encode_len(value_len, &mut scratch);
    scratch.len()
}

/// A container whose first child, `DF21` (model v1), holds the big-endian 2-byte offsets of the
/// following children from the start of the container's value.
///
/// Returns the encoded container and the encoded children in card order (offset list first), so
/// that callers can sign or hash exact child bytes.
pub fn offset_container(
    container_tag: u16,
    offsets_tag: u16,
    items: &[(u16, &[u8])],
) -> OffsetContainer {
    let offsets_value_len = items.len() * 2;
    let offsets_tlv_len = header_len(offsets_tag, offsets_value_len) + offsets_value_len;
    let mut offsets = Vec::with_capacity(offsets_value_len);
    let mut position = offsets_tlv_len;
    let mut encoded_items = Vec::with_capacity(items.len());
    for (tag, value) in items {
        let item = tlv(*tag, value);
        // Offsets are two bytes; the card-face EF is well below 64 KB, so this never saturates.
        let offset = u16::try_from(position).unwrap_or(u16::MAX);
        offsets.extend_from_slice(&offset.to_be_bytes());
        position += item.len();
        encoded_items.push(item);
    }
    let mut children = Vec::with_capacity(items.len() + 1);
    children.push(tlv(offsets_tag, &offsets));
    children.extend(encoded_items);
    let value: Vec<u8> = children.concat();
    OffsetContainer {
        encoded: tlv(container_tag, &value),
        children,
    }
}

/// The result of [`offset_container`].
#[derive(Debug, Clone)]
pub struct OffsetContainer {
    /// The whole container TLV, as stored in the EF.
    pub encoded: Vec<u8>,
    /// Each child TLV in card order, starting with the offset list.
    pub children: Vec<Vec<u8>>,
}

/// Where the length field of a TLV starts and how long it is, for a TLV starting at `at`.
///
/// Used by the fault profiles to corrupt a length in place; `None` if `bytes` does not hold a
/// header this encoder could have written there.
pub fn length_field(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = *bytes.get(at)?;
    // Two-byte tags have the low five bits of their first byte all set (ISO 7816-4 §5.2.2.1).
    let tag_len = if first & 0x1F == 0x1F { 2 } else { 1 };
    let len_at = at + tag_len;
    let len_len = match *bytes.get(len_at)? {
        0x00..=0x7F => 1,
        0x81 => 2,
        0x82 => 3,
        _ => return None,
    };
    (len_at + len_len <= bytes.len()).then_some((len_at, len_len))
}

fn decode_len(field: &[u8]) -> usize {
    match field {
        [short] => usize::from(*short),
        [_, rest @ ..] => rest.iter().fold(0, |acc, b| (acc << 8) | usize::from(*b)),
        [] => 0,
    }
}

/// Where each child of the constructed TLV at the start of `encoded` begins; `None` if the
/// encoding is not one this encoder writes or a child runs past the end.
pub fn child_positions(encoded: &[u8]) -> Option<Vec<usize>> {
    let (len_at, len_len) = length_field(encoded, 0)?;
    let end = (len_at + len_len).checked_add(decode_len(&encoded[len_at..len_at + len_len]))?;
    if end > encoded.len() {
        return None;
    }
    let mut at = len_at + len_len;
    let mut positions = Vec::new();
    while at < end {
        positions.push(at);
        let (child_len_at, child_len_len) = length_field(encoded, at)?;
        let value = decode_len(&encoded[child_len_at..child_len_at + child_len_len]);
        at = child_len_at + child_len_len + value;
    }
    (at == end).then_some(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_shortest_form() {
        assert_eq!(tlv(0xDF22, &[1; 3])[..3], [0xDF, 0x22, 0x03]);
        assert_eq!(tlv(0xDF27, &[0; 200])[..4], [0xDF, 0x27, 0x81, 200]);
        assert_eq!(tlv(0xFF20, &[0; 4000])[..5], [0xFF, 0x20, 0x82, 0x0F, 0xA0]);
        assert_eq!(tlv(0x81, &[0; 256])[..4], [0x81, 0x82, 0x01, 0x00]);
    }

    #[test]
    fn offsets_point_at_each_item_from_the_container_value() {
        let c = offset_container(0xFF20, 0xDF21, &[(0xDF22, b"abc"), (0xDF23, b"de")]);
        // DF21 04 | 00 07 | 00 0D: the offset list takes 7 bytes, DF22 03 abc takes 6.
        assert_eq!(
            c.children[0],
            vec![0xDF, 0x21, 0x04, 0x00, 0x07, 0x00, 0x0D]
        );
        let value = &c.encoded[3..];
        assert_eq!(&value[7..12], &[0xDF, 0x22, 0x03, b'a', b'b']);
        assert_eq!(&value[13..15], &[0xDF, 0x23]);
        assert_eq!(value.len(), 7 + 6 + 5);
    }

    #[test]
    fn child_positions_walk_the_container() {
        let c = offset_container(0xFF20, 0xDF21, &[(0xDF22, b"abc"), (0xDF23, &[0; 300])]);
        assert_eq!(c.encoded[..2], [0xFF, 0x20]);
        // FF20 82 xx xx: value starts at 5; DF21 takes 7 bytes, DF22 takes 6.
        assert_eq!(child_positions(&c.encoded), Some(vec![5, 12, 18]));
        assert_eq!(child_positions(&c.encoded[..20]), None);
    }

    #[test]
    fn length_field_finds_short_and_long_forms() {
        let item = tlv(0xDF27, &[0; 300]);
        assert_eq!(length_field(&item, 0), Some((2, 3)));
        assert_eq!(length_field(&[0x82, 0x03, 1, 0, 1], 0), Some((1, 1)));
        assert_eq!(length_field(&[0xDF], 0), None);
    }
}
