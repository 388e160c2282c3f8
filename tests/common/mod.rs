//! Shared helpers of the end-to-end tests.

pub mod phone;
pub mod records;
pub mod virtual_reader;

use honnin_core::card::{AuthPin, MatchingNumberB, SigningPassword};
use honnin_simcard::holder::{AUTH_PIN, SIGN_PASSWORD, TEST_HOLDER};

/// The test card's secrets, parsed as the product parses typed input.
pub fn auth_pin() -> AuthPin {
    AuthPin::parse(AUTH_PIN).expect("test PIN is well-formed")
}

pub fn signing_password() -> SigningPassword {
    SigningPassword::parse(SIGN_PASSWORD).expect("test password is well-formed")
}

pub fn matching_number_b() -> MatchingNumberB {
    MatchingNumberB::parse(&TEST_HOLDER.matching_number_b()).expect("test number is well-formed")
}

use honnin_core::check::{CheckRequest, Verifier};
use honnin_core::verify::addressee::Addressee;
use honnin_core::verify::x509::{RevocationList, TrustAnchors};
use honnin_core::verify::{FixedClock, RandomSource, UnixTime};

/// The tests' check time: every fixture is valid at this date unless it is meant not to be.
pub fn clock() -> FixedClock {
    FixedClock(UnixTime::from_date(2026, 11, 25))
}

/// A predictable random source: tests assert on behaviour, not on nonce values.
pub struct CountingRandom(pub u8);

impl RandomSource for CountingRandom {
    fn fill(&mut self, out: &mut [u8]) {
        for byte in out {
            self.0 = self.0.wrapping_add(1);
            *byte = self.0;
        }
    }
}

/// The test PKI's anchors, loaded from the directory a deployment would configure.
pub fn anchors() -> TrustAnchors {
    TrustAnchors::load_dir(honnin_simcard::fixtures::anchors_dir()).expect("test anchors load")
}

/// The test CRLs of both issuing CAs.
pub fn revocation_lists() -> Vec<RevocationList> {
    let dir = honnin_simcard::fixtures::anchors_dir().join("..");
    ["jpki-auth-ca.crl.der", "jpki-sign-ca.crl.der"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(name)).expect("CRL fixture");
            RevocationList::from_der(&bytes).expect("CRL parses")
        })
        .collect()
}

pub fn verifier() -> Verifier {
    Verifier::new(anchors())
}

pub fn verifier_with_crl() -> Verifier {
    Verifier::new(anchors()).with_revocation_lists(revocation_lists())
}

/// The test holder as a sender would register them.
pub fn addressee() -> Addressee {
    Addressee {
        name: TEST_HOLDER.name.to_owned(),
        address: Some(TEST_HOLDER.address.to_owned()),
        birth_date: honnin_core::card::CalendarDate::new(1990, 4, 1),
    }
}

pub fn request(addressee: Option<Addressee>) -> CheckRequest {
    CheckRequest {
        item_id: "JP-ITEM-0001".into(),
        sender_id: "test-bank".into(),
        device_id: "handheld-01".into(),
        addressee,
    }
}

/// Runs the door check of `level` on any transport with the test secrets, clock and random
/// source; level A with the courier's confirmation.
pub fn run_level<T: honnin_core::transport::CardTransport>(
    session: &mut honnin_core::reader::CardSession<T>,
    level: honnin_core::check::Level,
    number: &MatchingNumberB,
) -> honnin_core::check::DoorCheckReport {
    use honnin_core::check::{FaceDecision, Level};
    let verifier = verifier_with_crl();
    let request = request(Some(addressee()));
    match level {
        Level::A => verifier
            .check_level_a(session, &request, number, &clock(), &mut CountingRandom(0))
            .confirm(FaceDecision::Confirmed),
        Level::B => verifier.check_level_b(
            session,
            &request,
            &auth_pin(),
            &clock(),
            &mut CountingRandom(0),
        ),
        Level::C => verifier.check_level_c(
            session,
            &request,
            &signing_password(),
            &clock(),
            &mut CountingRandom(0),
        ),
        // The phone check does not run on a card session.
        Level::M => panic!("level M is the phone check: use phone::phone_report"),
    }
}
