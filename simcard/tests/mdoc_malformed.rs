//! Hostile phones: whatever bytes a phone sends — in the engagement, the NDEF file, the session
//! messages or the decrypted DeviceResponse — the reader answers with a typed error or a verdict
//! that is not `genuine`, and never panics.

use base64::Engine;
use honnin_core::check::{CheckRequest, FaceDecision, Verdict};
use honnin_core::mdoc::request::ElementRequest;
use honnin_core::mdoc::response::parse_device_response;
use honnin_core::mdoc::session::{parse_establishment, parse_session_data};
use honnin_core::mdoc::transfer::unwrap;
use honnin_core::mdoc::{DeviceEngagement, Engagement, MdocProfile, PhoneVerifier, ndef};
use honnin_core::record::AttributePolicy;
use honnin_core::transport::{CardTransport, TransportCapabilities, TransportError};
use honnin_core::verify::{FixedClock, RandomSource, UnixTime};
use honnin_simcard::mdoc::{Behaviour, PhoneProfile, test_anchors};
use proptest::prelude::*;

struct Counter(u8);

impl RandomSource for Counter {
    fn fill(&mut self, out: &mut [u8]) {
        for b in out.iter_mut() {
            self.0 = self.0.wrapping_mul(31).wrapping_add(7);
            *b = self.0;
        }
    }
}

fn request() -> CheckRequest {
    CheckRequest {
        item_id: "JP-ITEM-0001".into(),
        sender_id: "test-bank".into(),
        device_id: "handheld-01".into(),
        addressee: None,
    }
}

/// A device that answers every command with the given bytes.
struct Noise {
    answers: Vec<Vec<u8>>,
    next: usize,
}

impl CardTransport for Noise {
    fn capabilities(&self) -> TransportCapabilities {
        TransportCapabilities::EXTENDED
    }
    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let answer = self.answers.get(self.next).cloned();
        self.next += 1;
        answer.ok_or(TransportError::TagLost)
    }
}

fn run(transport: impl CardTransport, engagement: Engagement<'_>) -> Verdict {
    PhoneVerifier::new(test_anchors().expect("anchors"), MdocProfile::default())
        .check_phone(
            transport,
            &request(),
            AttributePolicy::default(),
            engagement,
            &FixedClock(UnixTime::from_date(2026, 12, 1)),
            &mut Counter(9),
        )
        .confirm(FaceDecision::Confirmed)
        .verdict()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let qr = format!("mdoc:{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes));
        let _ = DeviceEngagement::from_qr(&qr);
        let _ = DeviceEngagement::from_handover_select(&bytes);
        let _ = ndef::parse_message(&bytes);
        let _ = parse_device_response(&bytes);
        let _ = parse_session_data(&bytes);
        let _ = parse_establishment(&bytes);
        let _ = ElementRequest::parse_device_request(&bytes);
        let _ = unwrap(&bytes);
    }

    #[test]
    fn a_phone_answering_noise_is_never_genuine(
        answers in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..12)
    ) {
        let verdict = run(Noise { answers, next: 0 }, Engagement::Nfc);
        prop_assert_ne!(verdict, Verdict::Genuine);
    }

    #[test]
    fn a_flipped_byte_in_the_device_response_never_panics(position in 0usize..40_000, mask in 1u8..=255) {
        let phone = PhoneProfile::Genuine
            .build_behaving(
                &MdocProfile::default(),
                Behaviour { flip_response_byte: Some((position, mask)), ..Behaviour::default() },
            )
            .expect("phone");
        let _ = run(phone, Engagement::Nfc);
    }
}

#[test]
fn malformed_engagements_are_typed_errors() {
    for text in ["", "mdoc:", "mdoc:!!!", "https://example.com", "mdoc:oA"] {
        assert!(DeviceEngagement::from_qr(text).is_err(), "{text}");
    }
    // A genuine engagement with a cipher suite honnin does not know.
    let phone = PhoneProfile::Genuine.build().expect("phone");
    let qr = phone.qr_text();
    let engagement = DeviceEngagement::from_qr(&qr).expect("genuine engagement parses");
    let mut raw = engagement.raw().to_vec();
    // The cipher suite is the first element of the Security array: `82 01` → `82 02`.
    let at = raw
        .windows(2)
        .position(|w| w == [0x82, 0x01])
        .expect("security array");
    raw[at + 1] = 0x02;
    let altered = format!(
        "mdoc:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw)
    );
    let error = DeviceEngagement::from_qr(&altered).expect_err("suite 2 refused");
    assert!(error.to_string().contains("cipher suite 2"), "{error}");
}
