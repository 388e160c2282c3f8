//! The phone check (level M) against the software phone, for the end-to-end tests.

use honnin_core::check::{DoorCheckReport, FaceDecision};
use honnin_core::mdoc::{Engagement, MdocProfile, PhoneVerifier};
use honnin_core::record::AttributePolicy;
use honnin_simcard::mdoc::{PhoneProfile, test_anchors};

use super::{CountingRandom, addressee, clock, request};

/// The phone verifier with the software phone's test IACA.
pub fn phone_verifier() -> PhoneVerifier {
    PhoneVerifier::new(test_anchors().expect("test IACA"), MdocProfile::default())
}

/// `profile`'s phone checked for the test request, the courier confirming the portrait.
pub fn phone_report(profile: PhoneProfile, policy: AttributePolicy) -> DoorCheckReport {
    let phone = profile.build().expect("software phone builds");
    phone_verifier()
        .check_phone(
            phone,
            &request(Some(addressee())),
            policy,
            Engagement::Nfc,
            &clock(),
            &mut CountingRandom(7),
        )
        .confirm(FaceDecision::Confirmed)
}
