//! The direct encoder against the JSON-value encoder: equal on every value of the subset,
//! and declining (so the general path decides) on everything else.

use serde_json::{Value, json};

use super::to_canonical_vec;
use crate::record::canonical::{MAX_SAFE_INTEGER, to_canonical_bytes};

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
