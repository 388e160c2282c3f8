#![no_main]
//! The trust bundle as a device receives and keeps it: the signed bundle's JSON, and the body
//! JSON the receiver signs. Parsers return errors, never panic; and a bundle that verifies
//! re-encodes to the same bytes and verifies again, so a device that keeps it and reads it
//! back trusts exactly what it verified. Besides the raw input, a valid bundle (the fixtures'
//! root, CRL and phone IACA) is built with the labels, serial and dates the input chooses, so
//! the round trip is exercised with odd text even without a signed seed in the corpus.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::record::SoftwareSigner;
use honnin_core::trust_bundle::{
    BundleAnchor, BundleList, SignedTrustBundle, TRUST_BUNDLE_FORMAT, TRUST_BUNDLE_FORMAT_V2,
    TrustBundleBody,
};
use honnin_core::verify::UnixTime;
use honnin_core::verify::x509::RevocationList;
use libfuzzer_sys::fuzz_target;

const ROOT: &[u8] = include_bytes!("../../fixtures/pki/anchors/test-jpki-root.cert.der");
const CRL: &[u8] = include_bytes!("../../fixtures/pki/jpki-auth-ca.crl.der");
const IACA: &[u8] = include_bytes!("../../fixtures/pki/mdoc/mdoc-iaca.cert.der");

fn receiver() -> &'static SoftwareSigner {
    static KEY: OnceLock<SoftwareSigner> = OnceLock::new();
    KEY.get_or_init(|| SoftwareSigner::from_secret_bytes(&[7; 32]).expect("a fixed key"))
}

/// A bundle that verified: its JSON parses back to the same bundle, encodes to the same
/// bytes, and verifies again.
fn round_trip(signed: &SignedTrustBundle) {
    let key = receiver().device_key();
    let now = UnixTime(signed.bundle.issued_at);
    let bytes = signed.to_json();
    let parsed = SignedTrustBundle::from_json(&bytes).expect("a verified bundle's JSON parses");
    assert_eq!(&parsed, signed, "the JSON round trip changed the bundle");
    assert_eq!(
        parsed.to_json(),
        bytes,
        "the bundle re-encodes to other bytes"
    );
    let again = parsed
        .verify(key, Some(signed.bundle.serial), now)
        .expect("a kept bundle verifies again");
    assert_eq!(again.serial, signed.bundle.serial);
}

/// Signs `body` as the receiver does; whatever signs must verify (when its format is known)
/// and round-trip.
fn sign_and_check(body: TrustBundleBody) {
    let key = receiver();
    let known = body.format == TRUST_BUNDLE_FORMAT || body.format == TRUST_BUNDLE_FORMAT_V2;
    let Ok(signed) = SignedTrustBundle::sign(body, key, key.device_key()) else {
        return;
    };
    let verified = signed.verify(key.device_key(), None, UnixTime(signed.bundle.issued_at));
    if !known {
        assert!(verified.is_err(), "a bundle of an unknown format verified");
        return;
    }
    verified.expect("a bundle the receiver signed verifies");
    round_trip(&signed);
}

fn number(data: &[u8], at: usize) -> i64 {
    let mut bytes = [0u8; 8];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = data.get(at + i).copied().unwrap_or(0);
    }
    i64::from_le_bytes(bytes)
}

fuzz_target!(|data: &[u8]| {
    let key = receiver();
    // As the receiver sends it (and the device keeps it).
    if let Ok(signed) = SignedTrustBundle::from_json(data)
        && signed
            .verify(key.device_key(), None, UnixTime(signed.bundle.issued_at))
            .is_ok()
    {
        round_trip(&signed);
    }
    // The body, signed as the receiver would sign whatever parses.
    if let Ok(body) = serde_json::from_slice::<TrustBundleBody>(data) {
        sign_and_check(body);
    }
    // A valid bundle with the input's labels, serial and dates.
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest.get(16..).unwrap_or_default()).into_owned();
    // Split at a character boundary, half the characters each.
    let middle = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(text.len(), |(at, _)| at);
    let (anchor_label, list_label) = text.split_at(middle);
    let list = RevocationList::from_der(CRL).expect("the fixture CRL");
    let issued_at = number(rest, 0);
    let v2 = flags & 1 == 1;
    sign_and_check(TrustBundleBody {
        format: if v2 {
            TRUST_BUNDLE_FORMAT_V2
        } else {
            TRUST_BUNDLE_FORMAT
        }
        .to_owned(),
        serial: number(rest, 8).unsigned_abs(),
        issued_at,
        expires_at: issued_at.saturating_add(i64::from(flags >> 1) * 3600),
        anchors: vec![BundleAnchor {
            label: anchor_label.to_owned(),
            certificate: BASE64.encode(ROOT),
        }],
        lists: vec![BundleList {
            label: list_label.to_owned(),
            crl: BASE64.encode(CRL),
            this_update: list.this_update().0,
            next_update: list.next_update().map(|t| t.0),
        }],
        mdoc_anchors: if v2 {
            vec![BundleAnchor {
                label: list_label.chars().rev().collect(),
                certificate: BASE64.encode(IACA),
            }]
        } else {
            Vec::new()
        },
    });
});
