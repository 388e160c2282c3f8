//! The few CBOR shapes ISO/IEC 18013-5 uses, read from untrusted bytes without panicking.
//!
//! Everything from a phone is decoded with a small recursion limit and a size bound, then read
//! through these accessors, which return typed errors naming what was expected. The standard's
//! "tagged bstr" (`#6.24(bstr .cbor X)`) is what gets hashed and signed, so its exact bytes are
//! kept: [`embedded`] returns them, never a re-encoding.

use ciborium::Value;

use super::error::MdocError;

/// Largest CBOR message honnin decodes from a phone: a DeviceResponse with a portrait is ~20 KB;
/// the bound keeps a hostile phone from making the reader allocate without end.
pub const MAX_MESSAGE_LEN: usize = 512 * 1024;
/// Nesting depth of 18013-5 structures is below 10; the limit keeps the decoder's stack small.
const RECURSION_LIMIT: usize = 32;
/// The CBOR tag of an embedded, encoded data item (RFC 8949 §3.4.5.1).
pub const TAG_ENCODED_CBOR: u64 = 24;

/// Decodes one CBOR data item; trailing bytes are an error (a message is exactly one item).
pub fn decode(bytes: &[u8], what: &'static str) -> Result<Value, MdocError> {
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(MdocError::TooLarge {
            what,
            len: bytes.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    let mut reader = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut reader, RECURSION_LIMIT)
        .map_err(|e| MdocError::malformed(what, e))?;
    if !reader.is_empty() {
        return Err(MdocError::malformed(
            what,
            format!("{} bytes after the CBOR item", reader.len()),
        ));
    }
    Ok(value)
}

/// Encodes a value (writing to a `Vec` cannot fail but for a value ciborium cannot encode).
pub fn encode(value: &Value) -> Result<Vec<u8>, MdocError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).map_err(|e| MdocError::malformed("CBOR", e))?;
    Ok(out)
}

/// `#6.24(bstr)` around already encoded bytes.
pub fn tagged(encoded: Vec<u8>) -> Value {
    Value::Tag(TAG_ENCODED_CBOR, Box::new(Value::Bytes(encoded)))
}

/// The encoded bytes inside `#6.24(bstr)`.
pub fn embedded<'a>(value: &'a Value, what: &'static str) -> Result<&'a [u8], MdocError> {
    match value {
        Value::Tag(TAG_ENCODED_CBOR, inner) => match inner.as_ref() {
            Value::Bytes(bytes) => Ok(bytes),
            _ => Err(MdocError::malformed(
                what,
                "tag 24 does not hold a byte string",
            )),
        },
        _ => Err(MdocError::malformed(what, "expected #6.24(bstr)")),
    }
}

/// The map entries of `value`.
pub fn map<'a>(value: &'a Value, what: &'static str) -> Result<&'a [(Value, Value)], MdocError> {
    value
        .as_map()
        .map(Vec::as_slice)
        .ok_or_else(|| MdocError::malformed(what, "expected a map"))
}

/// The value under the text key `key`, if any.
pub fn get<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

/// The value under the integer key `key`, if any.
pub fn get_int(entries: &[(Value, Value)], key: i64) -> Option<&Value> {
    entries
        .iter()
        .find(|(k, _)| {
            k.as_integer()
                .and_then(|i| i64::try_from(i).ok())
                .is_some_and(|i| i == key)
        })
        .map(|(_, v)| v)
}

/// The value under `key`, required.
pub fn field<'a>(
    entries: &'a [(Value, Value)],
    key: &'static str,
    what: &'static str,
) -> Result<&'a Value, MdocError> {
    get(entries, key).ok_or_else(|| MdocError::malformed(what, format!("no \"{key}\"")))
}

pub fn text<'a>(value: &'a Value, what: &'static str) -> Result<&'a str, MdocError> {
    value
        .as_text()
        .ok_or_else(|| MdocError::malformed(what, "expected a text string"))
}

pub fn bytes<'a>(value: &'a Value, what: &'static str) -> Result<&'a [u8], MdocError> {
    value
        .as_bytes()
        .map(Vec::as_slice)
        .ok_or_else(|| MdocError::malformed(what, "expected a byte string"))
}

pub fn array<'a>(value: &'a Value, what: &'static str) -> Result<&'a [Value], MdocError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| MdocError::malformed(what, "expected an array"))
}

pub fn uint(value: &Value, what: &'static str) -> Result<u64, MdocError> {
    value
        .as_integer()
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| MdocError::malformed(what, "expected an unsigned integer"))
}

/// A text-keyed map, in the given order (18013-5 structures are built in a fixed order, so the
/// bytes the simulated wallet signs and the reader re-encodes are stable).
pub fn text_map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.to_owned()), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_bytes_and_deep_nesting_are_errors_not_panics() {
        assert!(decode(&[0xa0, 0x00], "test").is_err());
        let deep = [0x81u8; 100];
        assert!(decode(&deep, "test").is_err());
        assert!(decode(&[0x5a, 0xff, 0xff, 0xff, 0xff], "test").is_err());
    }

    #[test]
    fn embedded_keeps_the_exact_bytes() {
        let inner = vec![0xa1, 0x61, 0x61, 0x01];
        let value = tagged(inner.clone());
        assert_eq!(embedded(&value, "x").ok(), Some(inner.as_slice()));
        assert!(embedded(&Value::Bytes(inner), "x").is_err());
    }
}
