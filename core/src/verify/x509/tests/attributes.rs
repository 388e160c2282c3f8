use super::pki::*;
use crate::card::types::{CalendarDate, Sex};
use crate::verify::x509::{AttributeError, Era, SigningCertificateAttributes};

const NAME: &str = "試験\u{3000}花子";
const ADDRESS: &str = "東京都千代田区試験町1-2-3";

/// The attributes in the order one real card was seen to use: 1, 4, 3, 5, 2, 6.
fn attributes() -> Vec<(String, String)> {
    let arc = "1.2.392.200149.8.5.5";
    vec![
        (format!("{arc}.1"), NAME.into()),
        (format!("{arc}.4"), "419900401".into()),
        (format!("{arc}.3"), "2".into()),
        (format!("{arc}.5"), ADDRESS.into()),
        (format!("{arc}.2"), "00000".into()),
        (format!("{arc}.6"), "0".repeat(ADDRESS.chars().count())),
    ]
}

fn read(
    other_names: Vec<(String, String)>,
) -> Result<SigningCertificateAttributes, AttributeError> {
    let spec = Spec {
        other_names,
        ..sign_spec()
    };
    let report = sign(&issue(&spec, K_EE, K_CA));
    let chain = report.verified().expect("the signing chain verifies");
    SigningCertificateAttributes::from_verified(chain)
}

#[test]
fn attributes_of_a_verified_signing_certificate() {
    let attributes = read(attributes()).expect("attributes");
    assert_eq!(attributes.name, NAME);
    assert_eq!(attributes.address, ADDRESS);
    assert_eq!(
        attributes.birth_date,
        CalendarDate::new(1990, 4, 1).expect("date")
    );
    assert_eq!(attributes.birth_era, Era::Heisei);
    assert_eq!(attributes.sex, Sex::Female);
    assert!(!attributes.has_substitutes());
    assert_eq!(attributes.name_substitutes.len(), 5);
}

#[test]
fn debug_output_is_redacted() {
    let attributes = read(attributes()).expect("attributes");
    let shown = format!("{attributes:?}");
    assert!(!shown.contains("花子"));
    assert!(!shown.contains("1990"));
    assert!(!shown.contains("千代田"));
}

#[test]
fn substitute_flags_are_reported() {
    let mut values = attributes();
    values[4].1 = "00010".into();
    let attributes = read(values).expect("attributes");
    assert!(attributes.has_substitutes());
    assert_eq!(
        attributes.name_substitutes,
        vec![false, false, false, true, false]
    );
}

#[test]
fn an_authentication_chain_has_no_attributes() {
    let report = auth(&issue(&auth_spec(), K_EE, K_CA));
    let chain = report.verified().expect("verified");
    assert_eq!(
        SigningCertificateAttributes::from_verified(chain),
        Err(AttributeError::NotSigningCertificate)
    );
}

#[test]
fn missing_duplicate_or_malformed_attributes_are_errors_naming_the_attribute() {
    assert_eq!(read(vec![]), Err(AttributeError::NoSubjectAltName));

    let mut without_birth = attributes();
    without_birth.remove(1);
    assert_eq!(
        read(without_birth),
        Err(AttributeError::Missing("birth date (.5.4)"))
    );

    let mut twice = attributes();
    twice.push(twice[0].clone());
    assert_eq!(read(twice), Err(AttributeError::Duplicate("name (.5.1)")));

    for (index, bad, label) in [
        (1, "19900401", "birth date (.5.4)"),
        (1, "619900401", "birth date (.5.4)"),
        (1, "419900231", "birth date (.5.4)"),
        (2, "3", "sex (.5.3)"),
        (2, "F", "sex (.5.3)"),
        (4, "0000", "name substitute flags (.5.2)"),
        (4, "00002", "name substitute flags (.5.2)"),
        (0, "  ", "name substitute flags (.5.2)"),
    ] {
        let mut values = attributes();
        values[index].1 = bad.into();
        let error = read(values).expect_err(bad);
        // The error names the attribute; its messages are fixed text, never the value.
        assert_eq!(error, AttributeError::Invalid(label), "{bad}");
    }
}

#[test]
fn other_names_outside_the_arc_are_ignored() {
    let mut values = attributes();
    values.push(("1.2.392.200149.8.5.5.7".into(), "x".into()));
    values.push(("1.3.6.1.4.1.99999.1".into(), "y".into()));
    assert!(read(values).is_ok());
}

#[test]
fn absent_substitute_flags_mean_no_substitutes() {
    // A card whose name and address need no substitute character may carry neither .5.2 nor .5.6.
    let values: Vec<_> = attributes()
        .into_iter()
        .filter(|(oid, _)| !oid.ends_with(".2") && !oid.ends_with(".6"))
        .collect();
    let attributes = read(values).expect("attributes without the optional flags");
    assert!(!attributes.has_substitutes());
    assert_eq!(attributes.name_substitutes, vec![false; 5]);
    assert_eq!(
        attributes.address_substitutes.len(),
        ADDRESS.chars().count()
    );
    // Only one of them absent: the other still counts.
    let mut values: Vec<_> = self::attributes()
        .into_iter()
        .filter(|(oid, _)| !oid.ends_with(".6"))
        .collect();
    values[4].1 = "00010".into();
    assert!(read(values).expect("attributes").has_substitutes());
}
