#![no_main]
//! Certificates and revocation lists from a hostile card or file: path validation against the
//! test anchors, CRL parsing, and the signing certificate's attributes.

use std::sync::OnceLock;

use honnin_core::card::CertificateDer;
use honnin_core::verify::UnixTime;
use honnin_core::verify::x509::{
    KeyPurpose, RevocationList, SigningCertificateAttributes, TrustAnchors, check_revocation,
    validate_chain,
};
use libfuzzer_sys::fuzz_target;

fn anchors() -> &'static TrustAnchors {
    static ANCHORS: OnceLock<TrustAnchors> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        TrustAnchors::from_der(vec![
            include_bytes!("../../fixtures/pki/anchors/test-jpki-root.cert.der").to_vec(),
        ])
        .expect("test anchor")
    })
}

fuzz_target!(|data: &[u8]| {
    // First byte splits the input into an end-entity and an intermediate.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cut = (usize::from(split) * rest.len()) / 256;
    let (ee, ca) = rest.split_at(cut);
    let at = UnixTime::from_date(2026, 11, 25);
    for purpose in [KeyPurpose::Authentication, KeyPurpose::Signing] {
        let report = validate_chain(
            &CertificateDer(ee.to_vec()),
            &[CertificateDer(ca.to_vec())],
            anchors(),
            at,
            purpose,
        );
        if let Some(chain) = report.verified() {
            let _ = SigningCertificateAttributes::from_verified(chain);
        }
        let list = RevocationList::from_der(data).ok();
        let _ = check_revocation(&report, list.as_ref(), at);
    }
});
