//! An end-entity certificate that says it may issue certificates is refused (issue 17, defect 6):
//! cA=true fails BasicConstraints, keyCertSign fails KeyUsage, even next to the usage the purpose
//! needs, so that a card key can never act as a CA under the J-LIS root.

use super::pki::*;

#[test]
fn end_entity_marked_ca_fails_basic_constraints_only() {
    for path_len in [None, Some(0)] {
        let spec = Spec {
            basic_constraints: Some((true, path_len)),
            ..auth_spec()
        };
        let report = auth(&issue(&spec, K_EE, K_CA));
        assert_only_failure(&report, CheckId::BasicConstraints, Reason::EndEntityIsCa);
        assert!(detail(&report, CheckId::BasicConstraints).contains("end-entity"));
    }
    // cA=false, as some issuers write it, is an end entity.
    let spec = Spec {
        basic_constraints: Some((false, None)),
        ..auth_spec()
    };
    assert_valid(&auth(&issue(&spec, K_EE, K_CA)));
}

#[test]
fn end_entity_with_key_cert_sign_fails_key_usage_only() {
    let auth_spec = Spec {
        key_usage: Some(KeyUsages::DigitalSignature | KeyUsages::KeyCertSign),
        ..auth_spec()
    };
    let report = auth(&issue(&auth_spec, K_EE, K_CA));
    assert_only_failure(&report, CheckId::KeyUsage, Reason::EndEntityIsCa);
    assert!(detail(&report, CheckId::KeyUsage).contains("keyCertSign"));

    let sign_spec = Spec {
        key_usage: Some(
            KeyUsages::DigitalSignature | KeyUsages::NonRepudiation | KeyUsages::KeyCertSign,
        ),
        ..sign_spec()
    };
    let report = sign(&issue(&sign_spec, K_EE, K_CA));
    assert_only_failure(&report, CheckId::KeyUsage, Reason::EndEntityIsCa);
}
