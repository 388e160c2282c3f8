use std::path::{Path, PathBuf};

use super::pki::*;
use crate::verify::crypto;
use crate::verify::x509::{AnchorError, AnchorPurpose};

/// The public J-LIS roots, read in place from the shared directory (never copied).
const JLIS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/jpki-trust-anchors"
);

const JLIS_AUTH: &str = "C=JP,O=JPKI,OU=JPKI for user authentication,OU=Japan Agency for Local Authority Information Systems";
const JLIS_SIGN: &str = "C=JP,O=JPKI,OU=JPKI for digital signature,OU=Japan Agency for Local Authority Information Systems";

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("honnin-anchors-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.0.join(name), bytes).expect("write");
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pem(der: &[u8]) -> String {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der).expect("PEM")
}

fn rfc4514_without_spaces(subject: &str) -> String {
    subject.replace(", ", ",")
}

#[test]
fn the_four_jlis_roots_load_side_by_side() {
    let anchors = TrustAnchors::load_dir(JLIS).expect("the J-LIS roots load");
    assert_eq!(anchors.len(), 4);
    assert_eq!(anchors.skipped(), ["README.md"]);
    let mut ids: Vec<_> = anchors.iter().map(|a| a.key_id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 4, "four different keys");

    // 2015 and 2023 generations share a name: only the key tells them apart.
    for (subject, files) in [
        (JLIS_AUTH, ["auth_ca_2015.pem", "auth_ca_2023.pem"]),
        (JLIS_SIGN, ["sign_ca_2015.pem", "sign_ca_2023.pem"]),
    ] {
        let generation: Vec<_> = anchors
            .iter()
            .filter(|a| files.contains(&a.source()))
            .collect();
        assert_eq!(generation.len(), 2);
        for anchor in &generation {
            let shown = rfc4514_without_spaces(&anchor.subject());
            // RFC 4514 lists the RDNs last first.
            let expected: Vec<&str> = subject.split(',').rev().collect();
            assert_eq!(shown, expected.join(","), "{}", anchor.source());
        }
        assert_ne!(generation[0].key_id(), generation[1].key_id());
    }

    // They are JPKI roots: they end paths and never verify a CV certificate, even one whose
    // issuer id is their key id (issue 17: anchors are scoped by purpose).
    assert_eq!(anchors.jpki_roots().len(), 4);
    assert!(anchors.cv_issuers().is_empty());
    for anchor in anchors.iter() {
        assert_eq!(anchor.purpose(), AnchorPurpose::JpkiRoot);
        assert_eq!(
            anchor.key_id(),
            crypto::key_id(&crypto::spki_der(anchor.key()).expect("spki"))
        );
        assert!(anchors.cv_issuer(&anchor.key_id()).is_none());
    }
    assert!(anchors.cv_issuer(&[0; 16]).is_none());
}

/// A certificate that may not issue certificates (no cA, no keyCertSign) is a card-data issuer:
/// found by key id for CV certificates, never the end of a certificate path.
#[test]
fn anchors_are_scoped_by_purpose() {
    let cv_only = Spec {
        basic_constraints: None,
        key_usage: Some(KeyUsages::DigitalSignature.into()),
        ..Spec::ca(OTHER_ROOT, OTHER_ROOT)
    };
    let cv_anchor = issue(&cv_only, K_OTHER, K_OTHER);
    let anchors = TrustAnchors::from_der(vec![root().0, cv_anchor.0]).expect("anchors");
    let (root_anchor, data_issuer) = (&anchors.jpki_roots()[0], &anchors.cv_issuers()[0]);
    assert_eq!(root_anchor.purpose(), AnchorPurpose::JpkiRoot);
    assert_eq!(data_issuer.purpose(), AnchorPurpose::CvIssuer);
    assert!(anchors.cv_issuer(&data_issuer.key_id()).is_some());
    assert!(anchors.cv_issuer(&root_anchor.key_id()).is_none());

    // An end entity the card-data issuer's key signed directly does not reach it: no path.
    let ee = Spec {
        issuer: OTHER_ROOT.into(),
        ..auth_spec()
    };
    let report = validate_chain(
        &issue(&ee, K_EE, K_OTHER),
        &[],
        &anchors,
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::UnknownIssuer);
    // Nor does a CA it signed, as a card could supply.
    let ca_under_cv = Spec {
        issuer: OTHER_ROOT.into(),
        ..ca_spec()
    };
    let report = validate_chain(
        &issue(&auth_spec(), K_EE, K_CA),
        &[issue(&ca_under_cv, K_CA, K_OTHER)],
        &anchors,
        at(),
        KeyPurpose::Authentication,
    );
    assert!(report.verified().is_none());
    // Only CV issuers configured: no JPKI root to end any path.
    let only_cv = TrustAnchors::from_der(vec![issue(&cv_only, K_OTHER, K_OTHER).0]).expect("cv");
    let report = validate_chain(
        &issue(&auth_spec(), K_EE, K_CA),
        &[ca()],
        &only_cv,
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::UnknownIssuer);
}

#[test]
fn a_test_chain_verifies_under_its_own_anchor_not_under_the_jlis_roots() {
    let ee = issue(&auth_spec(), K_EE, K_CA);
    let jlis = TrustAnchors::load_dir(JLIS).expect("J-LIS roots");
    let report = validate_chain(&ee, &[ca()], &jlis, at(), KeyPurpose::Authentication);
    assert_no_chain(&report, Reason::ChainIncomplete);

    // With the test root next to the J-LIS roots, the test chain ends at the test root.
    let mut ders: Vec<Vec<u8>> = jlis.iter().map(|a| a.certificate_der().to_vec()).collect();
    ders.push(root().0);
    let both = TrustAnchors::from_der(ders).expect("anchors");
    let report = validate_chain(&ee, &[ca()], &both, at(), KeyPurpose::Authentication);
    assert_valid(&report);
    assert_eq!(
        report.verified().expect("verified").anchor().source(),
        "der[4]"
    );
}

#[test]
fn a_certificate_copying_the_jlis_names_fails_under_the_jlis_roots() {
    // The forger names the 2023 authentication root as issuer, by name and by its key id.
    let jlis = TrustAnchors::load_dir(JLIS).expect("J-LIS roots");
    let real = jlis
        .iter()
        .find(|a| a.source() == "auth_ca_2023.pem")
        .expect("2023 root");
    let forged_root = Spec {
        key_ids: true,
        ..Spec::ca(&real.subject(), &real.subject())
    };
    let forged_root = issue(&forged_root, K_FORGER, K_FORGER);
    let forged_ee = issue(
        &Spec {
            issuer: real.subject(),
            claimed_authority_key_id: real.parsed.subject_key_id.clone(),
            ..auth_spec()
        },
        K_EE,
        K_FORGER,
    );
    let report = validate_chain(
        &forged_ee,
        std::slice::from_ref(&forged_root),
        &jlis,
        at(),
        KeyPurpose::Authentication,
    );
    assert_no_chain(&report, Reason::SignatureInvalid);

    // Vice versa: under the forger's root only, the forgery chains — which is why anchors are
    // configuration and never taken from the card.
    let forger_only = TrustAnchors::from_der(vec![forged_root.0]).expect("anchor");
    let report = validate_chain(
        &forged_ee,
        &[],
        &forger_only,
        at(),
        KeyPurpose::Authentication,
    );
    assert_valid(&report);
}

#[test]
fn a_directory_of_mixed_files_loads_certificates_by_content() {
    let dir = TempDir::new("mixed");
    let other = issue(&Spec::ca(OTHER_ROOT, OTHER_ROOT), K_OTHER, K_OTHER);
    let forger = issue(&root_spec(), K_FORGER, K_FORGER);
    dir.write("README.md", b"# anchors\nPut certificates here.\n");
    dir.write("SHA256SUMS", b"0123  root.cer\n");
    // A bundle with two certificates and text around them.
    dir.write(
        "bundle.pem",
        format!("issued for tests\n{}\n{}", pem(&root().0), pem(&other.0)).as_bytes(),
    );
    // DER under a name with no extension at all.
    dir.write("forger-root", &forger.0);
    // The same certificate twice counts once.
    dir.write("copy.cer", &root().0);
    dir.write(".hidden.pem", b"not read");
    std::fs::create_dir_all(dir.path().join("subdir")).expect("subdir");

    let anchors = TrustAnchors::load_dir(dir.path()).expect("loads");
    assert_eq!(anchors.len(), 3);
    assert_eq!(anchors.skipped(), ["README.md", "SHA256SUMS"]);
    let sources: Vec<_> = anchors.iter().map(|a| a.source().to_string()).collect();
    assert_eq!(sources, ["bundle.pem", "bundle.pem", "forger-root"]);
}

#[test]
fn a_broken_certificate_file_is_an_error_naming_it() {
    let mut truncated = root().0;
    truncated.truncate(truncated.len() - 10);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("broken.der", truncated.clone()),
        ("broken.CRT", b"not a certificate".to_vec()),
        (
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        ),
        (
            "key.pem",
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec(),
        ),
        // PEM certificate blocks count whatever the file is called.
        ("anchor", pem(&truncated).into_bytes()),
    ];
    for (name, bytes) in cases {
        let dir = TempDir::new(&format!("broken-{name}"));
        dir.write("good.der", &root().0);
        dir.write(name, &bytes);
        let error = TrustAnchors::load_dir(dir.path()).expect_err(name);
        assert!(
            matches!(error, AnchorError::Certificate { .. }),
            "{name}: {error}"
        );
        assert!(error.to_string().contains(name), "{error}");
    }
}

#[test]
fn an_unusable_key_or_an_empty_directory_is_an_error() {
    let dir = TempDir::new("empty");
    dir.write("README.md", b"nothing here");
    assert!(matches!(
        TrustAnchors::load_dir(dir.path()),
        Err(AnchorError::Empty { .. })
    ));
    assert!(matches!(
        TrustAnchors::load_dir(dir.path().join("missing")),
        Err(AnchorError::Directory { .. })
    ));
    assert!(matches!(
        TrustAnchors::from_der(vec![b"junk".to_vec()]),
        Err(AnchorError::Certificate { .. })
    ));
}
