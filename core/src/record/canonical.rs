//! Canonical JSON: the one byte string a record's signature and hash are computed over.
//!
//! This is RFC 8785 (JSON Canonicalization Scheme, JCS) restricted to the values a record holds:
//! objects, arrays, strings, `true`/`false`/`null` and integers of magnitude at most 2^53 − 1.
//! Within that subset JCS output is fully determined by a few rules, which are all a sender needs
//! to re-implement it (docs/record-format.md repeats them):
//! - no whitespace anywhere;
//! - object members sorted by their names compared as arrays of UTF-16 code units;
//! - strings as ECMAScript `JSON.stringify` writes them: `"` and `\` escaped with a backslash,
//!   U+0008/0009/000A/000C/000D as `\b \t \n \f \r`, other characters below U+0020 as `\u00xx`
//!   (lowercase hex), every other character as itself in UTF-8;
//! - integers in plain decimal, `-` for negatives, no leading zeros, no exponent.
//!
//! Fractions and integers beyond 2^53 − 1 are refused rather than approximated: a JavaScript
//! reader would round them, and the signature would then mean two different things.

use std::cmp::Ordering;

use serde_json::Value;
use serde_json::ser::Formatter;

pub use super::canonical_direct::to_canonical_vec;

/// The largest integer every JSON reader (IEEE-754 doubles) represents exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Why a value has no canonical form in honnin's subset of JCS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("a number in the record is not an integer of magnitude at most 2^53 - 1")]
    NumberOutOfRange,
}

/// The canonical bytes of `value`.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(1024);
    write_value(&mut out, value)?;
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            let integer = number
                .as_i64()
                .filter(|n| (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(n))
                .ok_or(CanonicalError::NumberOutOfRange)?;
            out.extend_from_slice(integer.to_string().as_bytes());
        }
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|a, b| utf16_order(a.0, b.0));
            out.push(b'{');
            for (i, (name, member)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, name);
                out.push(b':');
                write_value(out, member)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// JCS sorts member names by UTF-16 code units, which differs from UTF-8 byte order for
/// characters above U+FFFF against U+E000–U+FFFF.
pub(super) fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

pub(super) fn write_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    // Only `"`, `\` and bytes below 0x20 are escaped; every other byte, including each byte of
    // a multi-byte UTF-8 character (all >= 0x80), is copied as is, in runs.
    let bytes = text.as_bytes();
    let mut run_start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            b'\t' => Some(b"\\t"),
            b'\n' => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            b'\r' => Some(b"\\r"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..i]);
        match escape {
            Some(sequence) => out.extend_from_slice(sequence),
            None => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
        }
        run_start = i + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

/// Whether serde's encoding of `value` is exactly `expected`, and `expected` is canonical.
///
/// For reading stored records without building a JSON value of each: serde writes a struct's
/// fields in their declared order and strings with JCS's escapes, so for types declared in
/// canonical member order the encoding is the canonical form. That order is checked here as the
/// bytes go by, not assumed (a field declared out of order gives `false`, never a non-canonical
/// yes), numbers are held to the safe integer range, and the bytes are compared as they are
/// written, so nothing is allocated for the encoding itself.
pub(crate) fn encodes_canonically_as<T: serde::Serialize + ?Sized>(
    value: &T,
    expected: &[u8],
) -> bool {
    let mut same = SameBytes { expected, at: 0 };
    let written = value
        .serialize(&mut serde_json::Serializer::with_formatter(
            &mut same,
            CanonicalCheck::default(),
        ))
        .is_ok();
    written && same.at == expected.len()
}

/// A writer that only compares what it is given with `expected`, and fails at the first
/// difference (which stops the encoding there).
struct SameBytes<'a> {
    expected: &'a [u8],
    at: usize,
}

impl std::io::Write for SameBytes<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self.expected.get(self.at..self.at + bytes.len()) {
            Some(part) if part == bytes => {
                self.at += bytes.len();
                Ok(bytes.len())
            }
            _ => Err(not_canonical()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn not_canonical() -> std::io::Error {
    std::io::Error::other("not the canonical form")
}

/// serde_json's compact output, refusing what canonical JSON has no place for: members out of
/// UTF-16 order, numbers outside the safe integers, fractions, raw fragments.
#[derive(Default)]
struct CanonicalCheck {
    /// The last member name of each open object, and the name being written.
    names: String,
    /// Per open object: where its names start in `names`, and where its last name ends.
    objects: Vec<(usize, Option<usize>)>,
    in_name: bool,
}

impl Formatter for CanonicalCheck {
    fn write_i64<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        value: i64,
    ) -> std::io::Result<()> {
        if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&value) {
            return Err(not_canonical());
        }
        serde_json::ser::CompactFormatter.write_i64(w, value)
    }

    fn write_u64<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        value: u64,
    ) -> std::io::Result<()> {
        match i64::try_from(value) {
            Ok(value) => self.write_i64(w, value),
            Err(_) => Err(not_canonical()),
        }
    }

    fn write_i128<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        value: i128,
    ) -> std::io::Result<()> {
        match i64::try_from(value) {
            Ok(value) => self.write_i64(w, value),
            Err(_) => Err(not_canonical()),
        }
    }

    fn write_u128<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        value: u128,
    ) -> std::io::Result<()> {
        match i64::try_from(value) {
            Ok(value) => self.write_i64(w, value),
            Err(_) => Err(not_canonical()),
        }
    }

    fn write_f32<W: ?Sized + std::io::Write>(&mut self, _: &mut W, _: f32) -> std::io::Result<()> {
        Err(not_canonical())
    }

    fn write_f64<W: ?Sized + std::io::Write>(&mut self, _: &mut W, _: f64) -> std::io::Result<()> {
        Err(not_canonical())
    }

    fn write_number_str<W: ?Sized + std::io::Write>(
        &mut self,
        _: &mut W,
        _: &str,
    ) -> std::io::Result<()> {
        Err(not_canonical())
    }

    fn write_raw_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        _: &mut W,
        _: &str,
    ) -> std::io::Result<()> {
        Err(not_canonical())
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if self.in_name {
            self.names.push_str(fragment);
        }
        w.write_all(fragment.as_bytes())
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        use serde_json::ser::CharEscape;
        let character = match escape {
            CharEscape::Quote => '"',
            CharEscape::ReverseSolidus => '\\',
            // JCS writes `/` as itself.
            CharEscape::Solidus => return Err(not_canonical()),
            CharEscape::Backspace => '\u{8}',
            CharEscape::FormFeed => '\u{c}',
            CharEscape::LineFeed => '\n',
            CharEscape::CarriageReturn => '\r',
            CharEscape::Tab => '\t',
            CharEscape::AsciiControl(byte) => char::from(byte),
        };
        if self.in_name {
            self.names.push(character);
        }
        serde_json::ser::CompactFormatter.write_char_escape(w, escape)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.objects.push((self.names.len(), None));
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        if let Some((base, _)) = self.objects.pop() {
            self.names.truncate(base);
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.in_name = true;
        serde_json::ser::CompactFormatter.begin_object_key(w, first)
    }

    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.in_name = false;
        let Some((base, last)) = self.objects.last_mut() else {
            return Err(not_canonical());
        };
        if let Some(end) = *last {
            if utf16_order(&self.names[*base..end], &self.names[end..]) != Ordering::Less {
                return Err(not_canonical());
            }
            // Keep only this name: the next one is compared with it.
            self.names.drain(*base..end);
        }
        *last = Some(self.names.len());
        serde_json::ser::CompactFormatter.end_object_key(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical(value: Value) -> String {
        String::from_utf8(to_canonical_bytes(&value).expect("canonical")).expect("utf-8")
    }

    #[test]
    fn members_sorted_without_whitespace() {
        let value = json!({"b": [1, {"z": null, "a": true}], "a": "x", "": false});
        assert_eq!(
            canonical(value),
            r#"{"":false,"a":"x","b":[1,{"a":true,"z":null}]}"#
        );
    }

    #[test]
    fn strings_escape_as_ecmascript_does() {
        let value = json!("\"\\\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}/é本\u{2028}😀");
        assert_eq!(
            canonical(value),
            "\"\\\"\\\\\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}/é本\u{2028}😀\""
        );
    }

    #[test]
    fn names_sort_by_utf16_code_units() {
        // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FB01 (ﬁ), unlike in UTF-8.
        let value = json!({"\u{fb01}": 1, "\u{1f600}": 2});
        assert_eq!(canonical(value), "{\"\u{1f600}\":2,\"\u{fb01}\":1}");
    }

    /// RFC 8785 §3.2.3's sorting example, integers only.
    #[test]
    fn rfc_8785_sorting_example() {
        let value = json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{80}": "Control",
            "\u{f6}": "Latin Small Letter O With Diaeresis"
        });
        let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
            \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
            \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(canonical(value), expected);
    }

    #[test]
    fn integers_only_within_the_safe_range() {
        assert_eq!(
            canonical(json!([0, -1, 42, MAX_SAFE_INTEGER])),
            "[0,-1,42,9007199254740991]"
        );
        for bad in [json!(1.5), json!(MAX_SAFE_INTEGER + 1), json!(u64::MAX)] {
            assert_eq!(
                to_canonical_bytes(&bad),
                Err(CanonicalError::NumberOutOfRange)
            );
        }
    }

    #[derive(serde::Serialize)]
    struct Sorted {
        a: u64,
        b: Vec<Inner>,
        c: Option<String>,
    }

    #[derive(serde::Serialize)]
    struct Inner {
        x: i64,
        y: &'static str,
    }

    #[derive(serde::Serialize)]
    struct Unsorted {
        b: u8,
        a: u8,
    }

    #[derive(serde::Serialize)]
    struct UnsortedInside {
        a: Unsorted,
    }

    #[derive(serde::Serialize)]
    struct Fraction {
        a: f64,
    }

    #[test]
    fn a_typed_encoding_is_compared_with_the_canonical_form() {
        let value = Sorted {
            a: 7,
            b: vec![Inner {
                x: -1,
                y: "\"é\n\u{1}",
            }],
            c: None,
        };
        let canonical =
            to_canonical_bytes(&serde_json::to_value(&value).expect("value")).expect("canonical");
        assert!(encodes_canonically_as(&value, &canonical));
        // Not the bytes: shorter, longer, one byte different.
        assert!(!encodes_canonically_as(
            &value,
            &canonical[..canonical.len() - 1]
        ));
        assert!(!encodes_canonically_as(
            &value,
            &[&canonical[..], b" "].concat()
        ));
        let mut other = canonical.clone();
        other[5] ^= 1;
        assert!(!encodes_canonically_as(&value, &other));
        // The bytes serde writes, but not canonical: members out of order (also nested),
        // numbers beyond 2^53 - 1, fractions.
        assert!(!encodes_canonically_as(
            &Unsorted { b: 1, a: 2 },
            br#"{"b":1,"a":2}"#
        ));
        assert!(!encodes_canonically_as(
            &UnsortedInside {
                a: Unsorted { b: 1, a: 2 }
            },
            br#"{"a":{"b":1,"a":2}}"#
        ));
        let beyond = (MAX_SAFE_INTEGER + 1) as u64;
        let big = Sorted {
            a: beyond,
            b: Vec::new(),
            c: None,
        };
        assert!(!encodes_canonically_as(
            &big,
            format!(r#"{{"a":{beyond},"b":[],"c":null}}"#).as_bytes()
        ));
        let low = Sorted {
            a: 1,
            b: vec![Inner {
                x: -MAX_SAFE_INTEGER - 1,
                y: "",
            }],
            c: None,
        };
        let text = format!(
            r#"{{"a":1,"b":[{{"x":{},"y":""}}],"c":null}}"#,
            -MAX_SAFE_INTEGER - 1
        );
        assert!(!encodes_canonically_as(&low, text.as_bytes()));
        assert!(!encodes_canonically_as(
            &Fraction { a: 1.5 },
            br#"{"a":1.5}"#
        ));
    }

    #[test]
    fn parsing_and_reencoding_is_stable() {
        let text = r#"{"b":"\u00e9\n","a":[true,null,-7]}"#;
        let value: Value = serde_json::from_str(text).expect("parses");
        let once = to_canonical_bytes(&value).expect("canonical");
        let again: Value = serde_json::from_slice(&once).expect("parses");
        assert_eq!(to_canonical_bytes(&again).expect("canonical"), once);
    }
}
