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
fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_string(out: &mut Vec<u8>, text: &str) {
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

/// The canonical bytes of `serde_json::to_value(value)`, written straight from `value`'s
/// `Serialize` without building that value: the record's body is encoded on every insert and
/// every record read, and the JSON tree cost more than the encoding itself (issue 13).
///
/// Only the plain subset takes this path: objects with distinct string member names, arrays,
/// strings, booleans, null and integers within [`MAX_SAFE_INTEGER`]. `None` for anything else
/// (a float, a number as a member name, a repeated name, an out-of-range integer), so a caller
/// goes through [`to_canonical_bytes`], which decides. serde_json escapes strings exactly as
/// JCS does (`\b \t \n \f \r`, other controls as lowercase `\u00xx`, nothing else), and
/// [`JcsFormatter`] sorts each object's members as JCS does.
pub fn to_canonical_vec<T: serde::Serialize + ?Sized>(value: &T) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, JcsFormatter::default());
    value.serialize(&mut serializer).ok()?;
    Some(out)
}

/// A serde_json formatter that writes JCS: members of each object are collected as they are
/// written, then sorted by name (UTF-16 order) and written out when the object ends.
#[derive(Default)]
struct JcsFormatter {
    /// The objects being written, innermost last.
    open: Vec<OpenObject>,
    /// Inside a member name: its characters are also collected, unescaped, for sorting.
    in_name: bool,
}

#[derive(Default)]
struct OpenObject {
    members: Vec<Member>,
}

struct Member {
    name: String,
    /// `"name":value`, as it will be written.
    bytes: Vec<u8>,
}

/// What makes [`to_canonical_vec`] give up: the value needs [`to_canonical_bytes`].
fn outside_subset() -> std::io::Error {
    std::io::Error::other("outside the direct subset of canonical JSON")
}

impl JcsFormatter {
    /// Appends to the member being written, or to the output outside every object.
    fn emit<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        match self.open.last_mut() {
            Some(object) => match object.members.last_mut() {
                Some(member) => {
                    member.bytes.extend_from_slice(bytes);
                    Ok(())
                }
                // serde_json writes nothing in an object outside its members.
                None => Err(outside_subset()),
            },
            None => writer.write_all(bytes),
        }
    }

    fn integer<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: i128,
    ) -> std::io::Result<()> {
        let safe = i128::from(MAX_SAFE_INTEGER);
        if self.in_name || !(-safe..=safe).contains(&value) {
            return Err(outside_subset());
        }
        self.emit(writer, value.to_string().as_bytes())
    }
}

impl serde_json::ser::Formatter for JcsFormatter {
    fn write_null<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.emit(writer, b"null")
    }

    fn write_bool<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        value: bool,
    ) -> std::io::Result<()> {
        self.emit(writer, if value { b"true" } else { b"false" })
    }

    fn write_i8<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: i8) -> std::io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_i16<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: i16) -> std::io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_i32<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: i32) -> std::io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_i64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: i64) -> std::io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_i128<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        v: i128,
    ) -> std::io::Result<()> {
        self.integer(w, v)
    }

    fn write_u8<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: u8) -> std::io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_u16<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: u16) -> std::io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_u32<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: u32) -> std::io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_u64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: u64) -> std::io::Result<()> {
        self.integer(w, v.into())
    }

    fn write_u128<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        v: u128,
    ) -> std::io::Result<()> {
        self.integer(w, i128::try_from(v).map_err(|_| outside_subset())?)
    }

    fn write_f32<W: ?Sized + std::io::Write>(&mut self, _: &mut W, _: f32) -> std::io::Result<()> {
        Err(outside_subset())
    }

    fn write_f64<W: ?Sized + std::io::Write>(&mut self, _: &mut W, _: f64) -> std::io::Result<()> {
        Err(outside_subset())
    }

    fn write_number_str<W: ?Sized + std::io::Write>(
        &mut self,
        _: &mut W,
        _: &str,
    ) -> std::io::Result<()> {
        Err(outside_subset())
    }

    fn begin_string<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.emit(writer, b"\"")
    }

    fn end_string<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.emit(writer, b"\"")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if self.in_name {
            self.member()?.name.push_str(fragment);
        }
        self.emit(writer, fragment.as_bytes())
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        use serde_json::ser::CharEscape;
        let byte = match escape {
            CharEscape::Quote => b'"',
            CharEscape::ReverseSolidus => b'\\',
            // serde_json never escapes '/'; JCS does not either.
            CharEscape::Solidus => return Err(outside_subset()),
            CharEscape::Backspace => 0x08,
            CharEscape::FormFeed => 0x0c,
            CharEscape::LineFeed => b'\n',
            CharEscape::CarriageReturn => b'\r',
            CharEscape::Tab => b'\t',
            CharEscape::AsciiControl(byte) => byte,
        };
        if self.in_name {
            self.member()?.name.push(char::from(byte));
        }
        // The same escape as `write_string`, so both paths agree by construction.
        let mut escaped = Vec::with_capacity(8);
        write_string(&mut escaped, char::from(byte).encode_utf8(&mut [0; 4]));
        self.emit(writer, &escaped[1..escaped.len() - 1])
    }

    fn write_byte_array<W: ?Sized + std::io::Write>(
        &mut self,
        _: &mut W,
        _: &[u8],
    ) -> std::io::Result<()> {
        Err(outside_subset())
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.emit(writer, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.emit(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            self.emit(writer, b",")
        }
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.open.push(OpenObject::default());
        Ok(())
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        let mut object = self.open.pop().ok_or_else(outside_subset)?;
        object.members.sort_by(|a, b| utf16_order(&a.name, &b.name));
        // A repeated name would be one member in the JSON value: the general path decides.
        if object.members.windows(2).any(|w| w[0].name == w[1].name) {
            return Err(outside_subset());
        }
        let size = object
            .members
            .iter()
            .map(|m| m.bytes.len() + 1)
            .sum::<usize>()
            + 2;
        let mut bytes = Vec::with_capacity(size);
        bytes.push(b'{');
        for (i, member) in object.members.iter().enumerate() {
            if i > 0 {
                bytes.push(b',');
            }
            bytes.extend_from_slice(&member.bytes);
        }
        bytes.push(b'}');
        self.emit(writer, &bytes)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        _: &mut W,
        _first: bool,
    ) -> std::io::Result<()> {
        let object = self.open.last_mut().ok_or_else(outside_subset)?;
        object.members.push(Member {
            name: String::new(),
            bytes: Vec::with_capacity(64),
        });
        self.in_name = true;
        Ok(())
    }

    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.in_name = false;
        Ok(())
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        self.emit(writer, b":")
    }

    fn write_raw_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        _: &mut W,
        _: &str,
    ) -> std::io::Result<()> {
        Err(outside_subset())
    }
}

impl JcsFormatter {
    fn member(&mut self) -> std::io::Result<&mut Member> {
        self.open
            .last_mut()
            .and_then(|object| object.members.last_mut())
            .ok_or_else(outside_subset)
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

    #[test]
    fn parsing_and_reencoding_is_stable() {
        let text = r#"{"b":"\u00e9\n","a":[true,null,-7]}"#;
        let value: Value = serde_json::from_str(text).expect("parses");
        let once = to_canonical_bytes(&value).expect("canonical");
        let again: Value = serde_json::from_slice(&once).expect("parses");
        assert_eq!(to_canonical_bytes(&again).expect("canonical"), once);
    }

    /// Short strings of the characters where encoders differ: controls, quotes, backslashes,
    /// the BMP's top and characters beyond it (whose UTF-16 order differs from UTF-8's).
    fn tricky_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let character = prop_oneof![
            Just('"'),
            Just('\\'),
            Just('/'),
            proptest::char::range('\u{0}', '\u{1f}'),
            proptest::char::range('a', 'c'),
            proptest::char::range('\u{7f}', '\u{a0}'),
            proptest::char::range('\u{e000}', '\u{ffff}'),
            proptest::char::range('\u{10000}', '\u{10ffff}'),
        ];
        proptest::collection::vec(character, 0..5).prop_map(|c| c.into_iter().collect())
    }

    /// A JSON value of honnin's subset: what both encoders take.
    fn json_in_subset() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).prop_map(|n| json!(n)),
            any::<String>().prop_map(Value::String),
            tricky_text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((tricky_text(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The direct encoder writes exactly what the JSON-value encoder writes.
        #[test]
        fn the_direct_encoder_agrees_with_the_value_encoder(value in json_in_subset()) {
            let direct = to_canonical_vec(&value);
            let general = to_canonical_bytes(&value).expect("in the subset");
            proptest::prop_assert_eq!(direct, Some(general));
        }
    }

    /// A struct's fields come out sorted, whatever order they are declared in, and nested.
    #[test]
    fn the_direct_encoder_sorts_struct_fields() {
        #[derive(serde::Serialize)]
        struct Inner {
            z: Option<u8>,
            a: &'static str,
        }
        #[derive(serde::Serialize)]
        struct Outer {
            zeta: Vec<Inner>,
            alpha: i64,
            #[serde(rename = "\u{fb01}")]
            ligature: bool,
            #[serde(rename = "\u{1f600}")]
            emoji: bool,
            empty: std::collections::BTreeMap<String, u8>,
        }
        let value = Outer {
            zeta: vec![Inner {
                z: None,
                a: "\n\u{1}é",
            }],
            alpha: -MAX_SAFE_INTEGER,
            ligature: true,
            emoji: false,
            empty: Default::default(),
        };
        let direct = to_canonical_vec(&value).expect("in the subset");
        let general =
            to_canonical_bytes(&serde_json::to_value(&value).expect("value")).expect("canonical");
        assert_eq!(direct, general);
        assert_eq!(
            String::from_utf8(direct).expect("utf-8"),
            "{\"alpha\":-9007199254740991,\"empty\":{},\"zeta\":[{\"a\":\"\\n\\u0001é\",\"z\":null}],\
             \"\u{1f600}\":false,\"\u{fb01}\":true}"
        );
    }

    /// Outside the subset the direct encoder declines, and the general path decides.
    #[test]
    fn the_direct_encoder_declines_what_it_does_not_cover() {
        assert_eq!(to_canonical_vec(&1.5f64), None);
        assert_eq!(to_canonical_vec(&(MAX_SAFE_INTEGER + 1)), None);
        assert_eq!(to_canonical_vec(&u64::MAX), None);
        assert_eq!(to_canonical_vec(&json!([{"a": [1, 2.5]}])), None);
        let numbered: std::collections::BTreeMap<u8, bool> = [(1, true)].into();
        assert_eq!(to_canonical_vec(&numbered), None);
        /// Bytes as serde's byte type (a JSON value holds them as an array of numbers).
        struct Bytes;
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b"ab")
            }
        }
        assert_eq!(to_canonical_vec(&Bytes), None);

        /// Writes the member "a" twice, which a JSON value holds once.
        struct Twice;
        impl serde::Serialize for Twice {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap as _;
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("a", &1)?;
                map.serialize_entry("a", &2)?;
                map.end()
            }
        }
        assert_eq!(to_canonical_vec(&Twice), None);
        assert_eq!(
            to_canonical_vec(&json!({"a": 1, "b": [true]})),
            Some(br#"{"a":1,"b":[true]}"#.to_vec())
        );
    }
}
