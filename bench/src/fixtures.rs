//! What every benchmark needs: the genuine software card on a given link, its secrets, the test
//! PKI's anchors, and the same fixed clock and predictable randomness as the end-to-end tests.

use honnin_core::card::{AuthPin, CalendarDate, MatchingNumberB, SigningPassword};
use honnin_core::check::{CheckRequest, Verifier};
use honnin_core::verify::addressee::Addressee;
use honnin_core::verify::x509::TrustAnchors;
use honnin_core::verify::{FixedClock, RandomSource, UnixTime};
use honnin_simcard::holder::TEST_HOLDER;
use honnin_simcard::{Profile, SoftwareCard};

use crate::links::Link;
use crate::metered::MeteredCard;

/// The tests' check time (2026-11-25): every genuine fixture is valid then.
pub fn check_time() -> UnixTime {
    UnixTime::from_date(2026, 11, 25)
}

pub fn clock() -> FixedClock {
    FixedClock(check_time())
}

/// Predictable "random" bytes: the benchmarks measure costs, not nonces.
pub struct CountingRandom(pub u8);

impl RandomSource for CountingRandom {
    fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            self.0 = self.0.wrapping_add(1);
            *byte = self.0;
        }
    }
}

/// The genuine software card on `link`.
pub fn genuine_card(link: &Link) -> MeteredCard {
    let card = Profile::Genuine
        .build()
        .expect("the genuine software card builds from the committed fixtures");
    MeteredCard::new(card.with_link(link.config))
}

/// The secrets the holder (and, for 照合番号B, the courier) types, parsed as the product does.
pub struct Secrets {
    pub auth_pin: AuthPin,
    pub signing_password: SigningPassword,
    pub matching_number_b: MatchingNumberB,
}

impl Secrets {
    pub fn of(card: &SoftwareCard) -> Self {
        let facts = card.facts();
        Self {
            auth_pin: AuthPin::parse(facts.auth_pin).expect("the test PIN is well-formed"),
            signing_password: SigningPassword::parse(facts.sign_password)
                .expect("the test signing password is well-formed"),
            matching_number_b: MatchingNumberB::parse(&facts.matching_number_b)
                .expect("the test 照合番号B is well-formed"),
        }
    }
}

/// The test PKI's anchors, loaded from the directory a deployment would configure.
pub fn anchors() -> TrustAnchors {
    TrustAnchors::load_dir(honnin_simcard::fixtures::anchors_dir())
        .expect("the test trust anchors load from fixtures/pki/anchors")
}

/// The verifier as on a door device: anchors, no revocation list (the receiving side checks
/// revocation).
pub fn verifier() -> Verifier {
    Verifier::new(anchors())
}

/// The parcel the checks are bound to, addressed to the test holder.
pub fn request() -> CheckRequest {
    CheckRequest {
        item_id: "JP-BENCH-0001".into(),
        sender_id: "bench-bank".into(),
        device_id: "bench-handheld".into(),
        addressee: Some(Addressee {
            name: TEST_HOLDER.name.to_owned(),
            address: Some(TEST_HOLDER.address.to_owned()),
            birth_date: CalendarDate::new(1990, 4, 1),
        }),
    }
}
