//! Malformed DER never panics: random bytes and mutated certificates and lists.

use std::sync::OnceLock;

use proptest::prelude::*;

use super::pki::*;
use crate::verify::x509::test_keys::{CrlSpec, crl};
use crate::verify::x509::{MAX_CERTIFICATE_LEN, RevocationList, check_revocation};

struct Material {
    anchors: TrustAnchors,
    ca: CertificateDer,
    ee: CertificateDer,
    crl: Vec<u8>,
}

/// Built once: proptest cases must not each pay for certificate issuance.
fn material() -> &'static Material {
    static MATERIAL: OnceLock<Material> = OnceLock::new();
    MATERIAL.get_or_init(|| Material {
        anchors: anchors(),
        ca: ca(),
        ee: issue(&sign_spec(), K_EE, K_CA),
        crl: crl(&CrlSpec::new(CA, vec![1, 2, 3]), K_CA),
    })
}

fn mutate(original: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for (position, value) in edits {
        let index = position % bytes.len();
        bytes[index] = *value;
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (original.len() + 1));
    }
    bytes
}

fn validate(ee: Vec<u8>, intermediate: Vec<u8>) -> ChainReport {
    let material = material();
    validate_chain(
        &CertificateDer(ee),
        &[CertificateDer(intermediate), material.ca.clone()],
        &material.anchors,
        at(),
        KeyPurpose::Signing,
    )
}

#[test]
fn the_unmutated_material_is_valid() {
    let material = material();
    assert_valid(&validate(material.ee.0.clone(), Vec::new()));
    assert!(RevocationList::from_der(&material.crl).is_ok());
}

#[test]
fn empty_truncated_and_oversized_inputs_are_malformed() {
    let ee = &material().ee.0;
    for bytes in [
        vec![],
        vec![0x30],
        vec![0x30, 0x80],
        vec![0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF],
        ee[..ee.len() - 1].to_vec(),
        [ee.clone(), vec![0x00]].concat(),
        vec![0x30; MAX_CERTIFICATE_LEN + 1],
    ] {
        assert_no_chain(&validate(bytes, Vec::new()), Reason::CertificateMalformed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(ee in proptest::collection::vec(any::<u8>(), 0..1500),
                                other in proptest::collection::vec(any::<u8>(), 0..600)) {
        let report = validate(ee.clone(), other.clone());
        prop_assert!(report.verified().is_none());
        let _ = RevocationList::from_der(&ee);
        let _ = RevocationList::from_der(&other);
    }

    #[test]
    fn mutated_certificates_never_panic_and_never_verify(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let material = material();
        let mutated = mutate(&material.ee.0, &edits, cut);
        let report = validate(mutated.clone(), Vec::new());
        if mutated != material.ee.0 {
            // Any change to the signed bytes or the signature breaks the signature, and DER has
            // one encoding per value, so no mutation can produce another valid certificate.
            prop_assert!(report.verified().is_none());
        }
        // A mutated CA supplied by the card.
        let mutated_ca = mutate(&material.ca.0, &edits, cut);
        let report = validate_chain(
            &material.ee,
            &[CertificateDer(mutated_ca.clone())],
            &material.anchors,
            at(),
            KeyPurpose::Signing,
        );
        prop_assert_eq!(report.verified().is_some(), mutated_ca == material.ca.0);
    }

    #[test]
    fn mutated_lists_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let material = material();
        let mutated = mutate(&material.crl, &edits, cut);
        if let Ok(list) = RevocationList::from_der(&mutated) {
            let report = validate(material.ee.0.clone(), Vec::new());
            let result = check_revocation(&report, Some(&list), at());
            if mutated != material.crl {
                prop_assert_ne!(result.state, CheckState::Passed);
            }
        }
    }
}
