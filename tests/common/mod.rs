//! Shared helpers of the end-to-end tests.

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
