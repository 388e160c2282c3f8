use super::pki::*;
use crate::verify::x509::MAX_INTERMEDIATES;
use crate::verify::x509::test_keys::{raw_extension, swap_oid};

// ---------------------------------------------------------------------------------------------
// Genuine paths

#[test]
fn genuine_authentication_path_passes_every_check_and_yields_the_key() {
    let report = auth(&issue(&auth_spec(), K_EE, K_CA));
    assert_valid(&report);
    for result in report.results() {
        assert_eq!(result.reason, Reason::Verified);
    }
    let chain = report.verified().expect("verified");
    assert_eq!(chain.purpose(), KeyPurpose::Authentication);
    assert_eq!(
        chain.anchor().subject(),
        "CN=honnin unit test root,O=JPKI TEST,C=JP"
    );
    assert_eq!(chain.certificates().len(), 3);
    assert!(!chain.sha1_used());
    let signature = test_keys::sign_sha256(K_EE, b"challenge");
    assert!(chain.key().verify_pkcs1v15_sha256(b"challenge", &signature));
    assert!(!chain.key().verify_pkcs1v15_sha256(b"other", &signature));
    // Debug shows no end-entity subject.
    assert!(!format!("{chain:?}").contains("0001"));
}

#[test]
fn genuine_signing_path_with_critical_policies_passes() {
    assert_valid(&sign(&issue(&sign_spec(), K_EE, K_CA)));
    // nonRepudiation alone, or digitalSignature alone, is enough for a signing key.
    for usage in [KeyUsages::NonRepudiation, KeyUsages::DigitalSignature] {
        let spec = Spec {
            key_usage: Some(usage.into()),
            ..sign_spec()
        };
        assert_valid(&sign(&issue(&spec, K_EE, K_CA)));
    }
}

#[test]
fn the_anchor_may_issue_end_entities_directly_as_the_jlis_roots_do() {
    let spec = Spec {
        issuer: ROOT.into(),
        ..auth_spec()
    };
    let ee = issue(&spec, K_EE, K_ROOT);
    let report = validate_chain(&ee, &[], &anchors(), at(), KeyPurpose::Authentication);
    assert_valid(&report);
    assert_eq!(report.verified().expect("verified").certificates().len(), 2);
    // The card's copy of the root (EF 000B holds it) is ignored in favour of the anchor.
    let report = validate_chain(&ee, &[root()], &anchors(), at(), KeyPurpose::Authentication);
    assert_valid(&report);
}

#[test]
fn card_supplied_certificates_are_untrusted_helpers() {
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let garbage = CertificateDer(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
    // Garbage next to the CA does not stop the path.
    let report = validate_chain(
        &ee,
        &[garbage.clone(), ca(), garbage.clone()],
        &anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_valid(&report);
    // A CA certificate alone is never an anchor.
    let report = validate_chain(
        &ee,
        &[ca()],
        &TrustAnchors::from_der(vec![
            issue(&Spec::ca(OTHER_ROOT, OTHER_ROOT), K_OTHER, K_OTHER).0,
        ])
        .expect("anchor"),
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::ChainIncomplete);
}

#[test]
fn without_key_identifiers_or_matching_names_the_issuer_is_found_by_signature() {
    // The issuer name matches no certificate and there is no AKI: only the signature links it.
    let spec = Spec {
        issuer: "CN=a name nobody has,C=JP".into(),
        key_ids: false,
        ..auth_spec()
    };
    assert_valid(&auth(&issue(&spec, K_EE, K_CA)));
}

// ---------------------------------------------------------------------------------------------
// Forgery: names copied, keys different

#[test]
fn forged_ca_with_the_same_name_and_another_key_fails() {
    // The forger's CA copies the CA's name and claims the root as issuer, but signs itself.
    let forged_ca = issue(&ca_spec(), K_FORGER, K_FORGER);
    let forged_ee = issue(&auth_spec(), K_EE, K_FORGER);
    let report = validate_chain(
        &forged_ee,
        &[forged_ca],
        &anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::SignatureInvalid);
    assert!(detail(&report, CheckId::CertificateChain).contains("honnin unit test root"));

    // The genuine CA on the card does not rescue an end entity the forger signed.
    let report = validate_chain(
        &forged_ee,
        &[ca()],
        &anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::SignatureInvalid);
}

#[test]
fn forged_root_with_the_same_name_and_another_key_fails() {
    // The forger builds the whole hierarchy under copied names and ships his root on the card.
    let forged_root = issue(&root_spec(), K_FORGER, K_FORGER);
    let forged_ca = issue(&ca_spec(), K_SUB_CA, K_FORGER);
    let forged_ee = issue(&auth_spec(), K_EE, K_SUB_CA);
    let report = validate_chain(
        &forged_ee,
        &[forged_ca, forged_root],
        &anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::SignatureInvalid);
}

#[test]
fn chain_to_no_anchor_fails() {
    let ee = issue(&auth_spec(), K_EE, K_CA);
    // Nobody supplied the CA, and the anchor did not sign the end entity.
    let report = validate_chain(&ee, &[], &anchors(), at(), KeyPurpose::Authentication);
    assert_no_chain(&report, Reason::UnknownIssuer);
    // An anchor set that has nothing to do with the path.
    let other = TrustAnchors::from_der(vec![
        issue(&Spec::ca(OTHER_ROOT, OTHER_ROOT), K_OTHER, K_OTHER).0,
    ])
    .expect("anchor");
    let report = validate_chain(&ee, &[], &other, at(), KeyPurpose::Authentication);
    assert_no_chain(&report, Reason::UnknownIssuer);
    // No anchors at all.
    let report = validate_chain(
        &ee,
        &[ca()],
        &TrustAnchors::default(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::UnknownIssuer);
}

// ---------------------------------------------------------------------------------------------
// Validity

#[test]
fn expired_end_entity_fails_validity_only() {
    let spec = Spec {
        not_before: utc(2019, 6, 1),
        not_after: utc(2024, 5, 31),
        ..auth_spec()
    };
    let report = auth(&issue(&spec, K_EE, K_CA));
    assert_only_failure(&report, CheckId::CertificateValidity, Reason::Expired);
    assert!(
        detail(&report, CheckId::CertificateValidity)
            .contains("end-entity certificate expired on 2024-05-31")
    );
}

#[test]
fn not_yet_valid_end_entity_fails_validity_only() {
    let spec = Spec {
        not_before: utc(2031, 6, 1),
        not_after: utc(2036, 5, 31),
        ..auth_spec()
    };
    let report = auth(&issue(&spec, K_EE, K_CA));
    assert_only_failure(&report, CheckId::CertificateValidity, Reason::NotYetValid);
}

#[test]
fn expired_ca_fails_validity_only() {
    let expired_ca = issue(
        &Spec {
            not_before: utc(2015, 1, 1),
            not_after: utc(2025, 12, 31),
            ..ca_spec()
        },
        K_CA,
        K_ROOT,
    );
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let report = validate_chain(
        &ee,
        &[expired_ca],
        &anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_only_failure(&report, CheckId::CertificateValidity, Reason::Expired);
    assert!(detail(&report, CheckId::CertificateValidity).contains("CA certificate 1"));
}

#[test]
fn expired_anchor_fails_validity_only() {
    // Like the 2015 J-LIS roots after 2025-10-19.
    let old_root = issue(
        &Spec {
            not_before: utc(2015, 10, 20),
            not_after: utc(2025, 10, 19),
            ..root_spec()
        },
        K_ROOT,
        K_ROOT,
    );
    let anchors = TrustAnchors::from_der(vec![old_root.0]).expect("anchor");
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let report = validate_chain(&ee, &[ca()], &anchors, at(), KeyPurpose::Authentication);
    assert_only_failure(&report, CheckId::CertificateValidity, Reason::Expired);
    assert!(detail(&report, CheckId::CertificateValidity).contains("trust anchor"));
    // The same path checked at a time inside every validity period passes.
    let report = validate_chain(
        &ee,
        &[ca()],
        &anchors,
        UnixTime::from_date(2025, 7, 1),
        KeyPurpose::Authentication,
    );
    assert_valid(&report);
}

#[test]
fn validity_bounds_are_inclusive() {
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let not_before = UnixTime::from_date(2025, 6, 1);
    let not_after = UnixTime::from_date(2030, 5, 31);
    let check = |at: UnixTime| {
        let report = validate_chain(&ee, &[ca()], &anchors(), at, KeyPurpose::Authentication);
        state(&report, CheckId::CertificateValidity)
    };
    assert_eq!(check(not_before).0, CheckState::Passed);
    assert_eq!(check(UnixTime(not_before.0 - 1)).1, Reason::NotYetValid);
    assert_eq!(check(not_after).0, CheckState::Passed);
    assert_eq!(check(UnixTime(not_after.0 + 1)).1, Reason::Expired);
}

// ---------------------------------------------------------------------------------------------
// KeyUsage

#[test]
fn authentication_end_entity_without_digital_signature_fails_key_usage_only() {
    for usage in [
        FlagSet::from(KeyUsages::NonRepudiation),
        FlagSet::from(KeyUsages::KeyCertSign),
    ] {
        let spec = Spec {
            key_usage: Some(usage),
            ..auth_spec()
        };
        let report = auth(&issue(&spec, K_EE, K_CA));
        assert_only_failure(&report, CheckId::KeyUsage, Reason::KeyUsageMissing);
        assert!(detail(&report, CheckId::KeyUsage).contains("digitalSignature"));
    }
}

#[test]
fn signing_end_entity_without_a_signature_usage_fails_key_usage_only() {
    let spec = Spec {
        key_usage: Some(KeyUsages::KeyEncipherment.into()),
        ..sign_spec()
    };
    assert_only_failure(
        &sign(&issue(&spec, K_EE, K_CA)),
        CheckId::KeyUsage,
        Reason::KeyUsageMissing,
    );
}

#[test]
fn end_entity_without_key_usage_fails_key_usage_only() {
    let spec = Spec {
        key_usage: None,
        ..auth_spec()
    };
    assert_only_failure(
        &auth(&issue(&spec, K_EE, K_CA)),
        CheckId::KeyUsage,
        Reason::KeyUsageMissing,
    );
}

#[test]
fn ca_without_key_cert_sign_fails_key_usage_only() {
    let ca = issue(
        &Spec {
            key_usage: Some(KeyUsages::CRLSign | KeyUsages::DigitalSignature),
            ..ca_spec()
        },
        K_CA,
        K_ROOT,
    );
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let report = validate_chain(&ee, &[ca], &anchors(), at(), KeyPurpose::Authentication);
    assert_only_failure(&report, CheckId::KeyUsage, Reason::KeyUsageMissing);
    assert!(detail(&report, CheckId::KeyUsage).contains("keyCertSign"));
}

// ---------------------------------------------------------------------------------------------
// BasicConstraints

#[test]
fn ca_without_ca_flag_fails_basic_constraints_only() {
    for constraints in [Some((false, None)), None] {
        let ca = issue(
            &Spec {
                basic_constraints: constraints,
                ..ca_spec()
            },
            K_CA,
            K_ROOT,
        );
        let ee = issue(&auth_spec(), K_EE, K_CA);
        let report = validate_chain(&ee, &[ca], &anchors(), at(), KeyPurpose::Authentication);
        assert_only_failure(&report, CheckId::BasicConstraints, Reason::NotCa);
    }
}

#[test]
fn path_length_constraint_is_respected() {
    // root → CA (pathLen 0) → sub-CA → end entity: one CA too many below the CA.
    let sub_ca = issue(
        &Spec {
            serial: 3,
            ..Spec::ca(SUB_CA, CA)
        },
        K_SUB_CA,
        K_CA,
    );
    let ee = issue(
        &Spec {
            issuer: SUB_CA.into(),
            ..auth_spec()
        },
        K_EE,
        K_SUB_CA,
    );
    let report = validate_chain(
        &ee,
        &[sub_ca.clone(), ca()],
        &anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_only_failure(
        &report,
        CheckId::BasicConstraints,
        Reason::PathLengthExceeded,
    );
    assert!(detail(&report, CheckId::BasicConstraints).contains("CA certificate 2"));

    // The same path with pathLen 1 on the CA passes.
    let roomy_ca = issue(
        &Spec {
            basic_constraints: Some((true, Some(1))),
            ..ca_spec()
        },
        K_CA,
        K_ROOT,
    );
    let report = validate_chain(
        &ee,
        &[sub_ca, roomy_ca],
        &anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_valid(&report);
}

#[test]
fn anchors_path_length_constraint_counts_too() {
    let strict_root = issue(
        &Spec {
            basic_constraints: Some((true, Some(0))),
            ..root_spec()
        },
        K_ROOT,
        K_ROOT,
    );
    let anchors = TrustAnchors::from_der(vec![strict_root.0]).expect("anchor");
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let report = validate_chain(&ee, &[ca()], &anchors, at(), KeyPurpose::Authentication);
    assert_only_failure(
        &report,
        CheckId::BasicConstraints,
        Reason::PathLengthExceeded,
    );
}

// ---------------------------------------------------------------------------------------------
// Certificate policy

#[test]
fn wrong_or_missing_policy_fails_policy_only() {
    let cases: [(&str, KeyPurpose); 4] = [
        // An authentication certificate with the signing policy.
        (SIGN_POLICY, KeyPurpose::Authentication),
        // A signing certificate with the authentication policy.
        (AUTH_POLICY, KeyPurpose::Signing),
        // The JPKI test environment's signing policy.
        ("1.2.392.200149.8.5.1.0.20", KeyPurpose::Signing),
        // `…8.5.1.10` is a sibling of `…8.5.1.1`, not below it.
        ("1.2.392.200149.8.5.1.10", KeyPurpose::Signing),
    ];
    for (policy, purpose) in cases {
        let usage = KeyUsages::DigitalSignature | KeyUsages::NonRepudiation;
        let spec = Spec::end_entity(EE, CA, usage, policy);
        let report = validate_chain(
            &issue(&spec, K_EE, K_CA),
            &[ca()],
            &anchors(),
            at(),
            purpose,
        );
        assert_only_failure(&report, CheckId::CertificatePolicy, Reason::PolicyMissing);
    }
    let spec = Spec {
        policies: vec![],
        ..auth_spec()
    };
    assert_only_failure(
        &auth(&issue(&spec, K_EE, K_CA)),
        CheckId::CertificatePolicy,
        Reason::PolicyMissing,
    );
}

#[test]
fn the_profile_arc_itself_and_any_policy_below_it_pass() {
    for policy in [
        "1.2.392.200149.8.5.1.3",
        "1.2.392.200149.8.5.1.3.30",
        "1.2.392.200149.8.5.1.3.30.1",
    ] {
        let spec = Spec {
            policies: vec!["2.5.29.32.0", policy],
            ..auth_spec()
        };
        assert_valid(&auth(&issue(&spec, K_EE, K_CA)));
    }
}

// ---------------------------------------------------------------------------------------------
// Signature algorithms

#[test]
fn sha1_is_refused_unless_the_profile_allows_it() {
    let spec = Spec {
        hash: Hash::Sha1,
        ..auth_spec()
    };
    let ee = issue(&spec, K_EE, K_CA);
    let report = auth(&ee);
    assert_no_chain(&report, Reason::UnsupportedAlgorithm);
    assert!(detail(&report, CheckId::CertificateChain).contains("sha1"));

    let policy = ChainPolicy::new(KeyPurpose::Authentication).allowing_sha1();
    let report = validate_chain_with(&ee, &[ca()], &anchors(), at(), policy);
    assert_valid(&report);
    assert_eq!(
        state(&report, CheckId::CertificateChain),
        (CheckState::Passed, Reason::Sha1Accepted)
    );
    assert!(report.verified().expect("verified").sha1_used());
}

#[test]
fn other_algorithms_are_unsupported() {
    // A genuine SHA-384 signature: a valid signature, but not an accepted algorithm.
    let spec = Spec {
        hash: Hash::Sha384,
        ..auth_spec()
    };
    assert_no_chain(
        &auth(&issue(&spec, K_EE, K_CA)),
        Reason::UnsupportedAlgorithm,
    );
    // md5WithRSAEncryption (1.2.840.113549.1.1.4), in both algorithm fields.
    let md5 = swap_oid(
        &issue(&auth_spec(), K_EE, K_CA),
        "1.2.840.113549.1.1.11",
        "1.2.840.113549.1.1.4",
    );
    let report = auth(&md5);
    assert_no_chain(&report, Reason::UnsupportedAlgorithm);
    assert!(detail(&report, CheckId::CertificateChain).contains("1.2.840.113549.1.1.4"));
    // Even with SHA-1 allowed.
    let policy = ChainPolicy::new(KeyPurpose::Authentication).allowing_sha1();
    let report = validate_chain_with(&md5, &[ca()], &anchors(), at(), policy);
    assert_no_chain(&report, Reason::UnsupportedAlgorithm);
}

#[test]
fn a_ca_signed_with_sha1_is_refused_too() {
    let sha1_ca = issue(
        &Spec {
            hash: Hash::Sha1,
            ..ca_spec()
        },
        K_CA,
        K_ROOT,
    );
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let report = validate_chain(
        &ee,
        &[sha1_ca],
        &anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::UnsupportedAlgorithm);
}

// ---------------------------------------------------------------------------------------------
// Extensions

#[test]
fn unknown_critical_extension_fails_the_chain_check_only() {
    let unknown = raw_extension("1.3.6.1.4.1.99999.1", true, &[0x05, 0x00]);
    let spec = Spec {
        extra: vec![unknown],
        ..auth_spec()
    };
    let report = auth(&issue(&spec, K_EE, K_CA));
    assert_only_failure(
        &report,
        CheckId::CertificateChain,
        Reason::UnknownCriticalExtension,
    );
    assert!(detail(&report, CheckId::CertificateChain).contains("1.3.6.1.4.1.99999.1"));

    // The same extension, not critical, is ignored.
    let spec = Spec {
        extra: vec![raw_extension("1.3.6.1.4.1.99999.1", false, &[0x05, 0x00])],
        ..auth_spec()
    };
    assert_valid(&auth(&issue(&spec, K_EE, K_CA)));
}

#[test]
fn unknown_critical_extension_in_a_ca_fails_too() {
    // nameConstraints (critical) is not processed by honnin, so the CA is not acceptable.
    let name_constraints = raw_extension("2.5.29.30", true, &[0x30, 0x00]);
    let ca = issue(
        &Spec {
            extra: vec![name_constraints],
            ..ca_spec()
        },
        K_CA,
        K_ROOT,
    );
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let report = validate_chain(&ee, &[ca], &anchors(), at(), KeyPurpose::Authentication);
    assert_only_failure(
        &report,
        CheckId::CertificateChain,
        Reason::UnknownCriticalExtension,
    );
}

#[test]
fn duplicate_extensions_make_a_certificate_malformed() {
    let spec = Spec {
        extra: vec![raw_extension("1.3.6.1.4.1.99999.1", false, &[0x05, 0x00]); 2],
        ..auth_spec()
    };
    assert_no_chain(
        &auth(&issue(&spec, K_EE, K_CA)),
        Reason::CertificateMalformed,
    );
}

// ---------------------------------------------------------------------------------------------
// Bounded work

#[test]
fn loops_and_long_paths_terminate() {
    // Two CAs that certify each other, neither reaching an anchor.
    let a = issue(&Spec::ca(CA, SUB_CA), K_CA, K_SUB_CA);
    let b = issue(&Spec::ca(SUB_CA, CA), K_SUB_CA, K_CA);
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let report = validate_chain(&ee, &[a, b], &anchors(), at(), KeyPurpose::Authentication);
    assert_no_chain(&report, Reason::ChainIncomplete);

    // root → 4 CAs → end entity: six certificates, more than MAX_CHAIN_LEN.
    let keys = [K_CA, K_SUB_CA, K_OTHER, K_FORGER];
    let mut cas = Vec::new();
    let mut issuer_name = ROOT.to_string();
    let mut issuer_key = K_ROOT;
    for (level, key) in keys.into_iter().enumerate() {
        let name = format!("CN=level {level},O=JPKI TEST,C=JP");
        cas.push(issue(&Spec::ca(&name, &issuer_name), key, issuer_key));
        issuer_name = name;
        issuer_key = key;
    }
    let ee = issue(
        &Spec {
            issuer: issuer_name,
            ..auth_spec()
        },
        K_EE,
        issuer_key,
    );
    let report = validate_chain(&ee, &cas, &anchors(), at(), KeyPurpose::Authentication);
    assert_eq!(
        report.result(CheckId::CertificateChain).map(|r| r.state),
        Some(CheckState::Failed)
    );
    assert!(report.verified().is_none());
}

#[test]
fn many_hostile_intermediates_cost_bounded_work() {
    // Twenty certificates naming themselves as the CA, none signed by anything useful.
    let decoys: Vec<CertificateDer> = (0..20)
        .map(|i| {
            issue(
                &Spec {
                    serial: 100 + i,
                    ..Spec::ca(CA, CA)
                },
                K_FORGER,
                K_OTHER,
            )
        })
        .collect();
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let report = validate_chain(&ee, &decoys, &anchors(), at(), KeyPurpose::Authentication);
    assert!(report.verified().is_none());
    // The bound is in what is considered, not in how long it took (a wall-clock limit would
    // fail on a loaded machine and prove nothing about the work): the report says the rest of
    // the decoys were left out, and at most MAX_SIGNATURE_CHECKS signatures were verified.
    let chain = report
        .result(CheckId::CertificateChain)
        .expect("chain result");
    assert_eq!(chain.state, CheckState::Failed, "{chain:?}");
    assert!(
        chain.detail.contains(&format!(
            "only the first {MAX_INTERMEDIATES} card-supplied certificates were considered"
        )),
        "{chain:?}"
    );
}

#[test]
fn a_ca_certificate_verified_before_does_not_vouch_for_an_altered_copy() {
    // The card's CA certificate is parsed and its signature verified once per process
    // (x509::memo); a copy differing in one bit of its signature is verified in full.
    let ee = issue(&auth_spec(), K_EE, K_CA);
    for _ in 0..2 {
        assert!(auth(&ee).verified().is_some(), "{:?}", auth(&ee));
    }
    let mut altered = ca();
    let last = altered.0.len() - 1;
    altered.0[last] ^= 1;
    let report = validate_chain(
        &ee,
        &[altered],
        &anchors(),
        at(),
        KeyPurpose::Authentication,
    );
    assert!(report.verified().is_none());
    let chain = report
        .result(CheckId::CertificateChain)
        .expect("chain result");
    assert_eq!(chain.state, CheckState::Failed, "{chain:?}");
}
