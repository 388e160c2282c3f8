//! Every profile builds, and its data verifies (or fails) exactly as the profile promises.
//!
//! The checks here are an independent, minimal verifier written against card-model.md with
//! `iso7816-tlv`, `x509-cert` and `rsa`, so that the fixtures are known to be right before the
//! product's verifier is tested on them.

mod common;

use common::*;
use der::{Decode, Encode};
use honnin_core::apdu::StatusWord;
use honnin_core::card::profile::{aid, card_face, input_support, jpki};
use honnin_simcard::{Fixtures, Profile, SoftwareCard, TAMPERED_ADDRESS, key_id, names};
use iso7816_tlv::ber::{Tag, Tlv, Value};
use rsa::pkcs8::DecodePublicKey;
use rsa::{BoxedUint, Pkcs1v15Sign, PublicKey};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

/// A child of a constructed TLV: tag as a number, exact encoded bytes, value.
type Child = (u64, Vec<u8>, Vec<u8>);

fn children(encoded: &[u8]) -> Result<Vec<Child>, String> {
    let outer = Tlv::from_bytes(encoded).map_err(|e| format!("{e:?}"))?;
    // `Tlv::length()` is the whole TLV's length despite its doc; the value's is this.
    let value_len = outer.value().len_as_bytes();
    let mut rest = &encoded[encoded.len() - value_len..];
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (tlv, after) = Tlv::parse(rest);
        let tlv = tlv.map_err(|e| format!("{e:?}"))?;
        let raw = rest[..rest.len() - after.len()].to_vec();
        let value = match tlv.value() {
            Value::Primitive(v) => v.clone(),
            Value::Constructed(_) => return Err("unexpected constructed child".into()),
        };
        let tag = tlv
            .tag()
            .to_bytes()
            .iter()
            .fold(0u64, |a, b| a << 8 | u64::from(*b));
        out.push((tag, raw, value));
        rest = after;
    }
    Ok(out)
}

fn find(items: &[Child], tag: u64) -> &[u8] {
    &items
        .iter()
        .find(|(t, ..)| *t == tag)
        .expect("tag present")
        .2
}

fn verifies(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    key.verify(
        Pkcs1v15Sign::new::<Sha256>(),
        &Sha256::digest(message),
        signature,
    )
    .is_ok()
}

/// A public key from model v1 data objects `82 e ‖ 81 n`.
fn key_from_objects(bytes: &[u8]) -> PublicKey {
    let objects = Tlv::parse_all(bytes);
    let value = |tag: u8| match objects
        .iter()
        .find(|t| *t.tag() == Tag::try_from(tag).expect("tag"))
        .expect("object")
        .value()
    {
        Value::Primitive(v) => v.clone(),
        Value::Constructed(_) => panic!("primitive expected"),
    };
    let n = BoxedUint::from_be_slice_vartime(&value(0x81));
    let e = BoxedUint::from_be_slice_vartime(&value(0x82));
    PublicKey::new(n, e).expect("valid key")
}

fn cert_key(der: &[u8]) -> PublicKey {
    let cert = Certificate::from_der(der).expect("certificate");
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .expect("spki");
    PublicKey::from_public_key_der(&spki).expect("RSA key")
}

fn cert_signed_by(der: &[u8], issuer: &PublicKey) -> bool {
    let cert = Certificate::from_der(der).expect("certificate");
    let tbs = cert.tbs_certificate().to_der().expect("tbs");
    verifies(issuer, &tbs, cert.signature().raw_bytes())
}

fn data_issuer() -> PublicKey {
    cert_key(
        Fixtures::embedded()
            .cert(names::DATA_ISSUER)
            .expect("anchor"),
    )
}

/// Verifies a CV certificate against the data issuer anchor; returns its subject key, and whether
/// the signature verified.
fn cv_certificate(card: &SoftwareCard, app: &[u8; 10]) -> (PublicKey, bool) {
    let cv = card.ef(app, card_face::CV_CERT).expect("EF 0004");
    let items = children(cv).expect("7F21");
    let (_, body_raw, body) = &items[0];
    let signature = find(&items, 0x5F37);
    let anchor = data_issuer();
    assert_eq!(
        body[..16],
        key_id(&anchor).expect("id"),
        "issuer id names the anchor"
    );
    let subject = key_from_objects(&body[32..]);
    assert_eq!(body[16..32], key_id(&subject).expect("id"));
    (subject, verifies(&anchor, body_raw, signature))
}

struct CardFaceCheck {
    signature_ok: bool,
    birth_date: Vec<u8>,
    expiry: Vec<u8>,
    chip_key: PublicKey,
}

fn check_card_face(card: &SoftwareCard) -> CardFaceCheck {
    let (signer, cv_ok) = cv_certificate(card, &aid::CARD_FACE);
    assert!(cv_ok, "card-face CV certificate");
    let ef = card
        .ef(&aid::CARD_FACE, card_face::FACE_DATA)
        .expect("EF 0002");
    let items = children(ef).expect("FF20");
    let tags: Vec<u64> = items.iter().map(|(t, ..)| *t).collect();
    assert_eq!(tags, (0xDF21..=0xDF2A).collect::<Vec<u64>>(), "card order");
    // DF21: offsets of DF22.. from the start of the container value.
    let value_start = ef.len() - items.iter().map(|(_, raw, _)| raw.len()).sum::<usize>();
    let offsets = find(&items, 0xDF21);
    let mut position = items[0].1.len();
    for (i, (_, raw, _)) in items.iter().enumerate().skip(1) {
        let offset = u16::from_be_bytes([offsets[2 * (i - 1)], offsets[2 * (i - 1) + 1]]);
        assert_eq!(usize::from(offset), position);
        assert_eq!(ef[value_start + position..][..raw.len()], raw[..]);
        position += raw.len();
    }
    // DF21..DF27 ‖ DF29 (docs/card-model-changes.md): skips DF28 itself, stops before DF2A.
    let signed: Vec<u8> = items[..7]
        .iter()
        .chain(&items[8..9])
        .flat_map(|(_, raw, _)| raw.clone())
        .collect();
    CardFaceCheck {
        signature_ok: verifies(&signer, &signed, find(&items, 0xDF28)),
        birth_date: find(&items, 0xDF22).to_vec(),
        expiry: find(&items, 0xDF29).to_vec(),
        chip_key: key_from_objects(find(&items, 0xDF24)),
    }
}

/// (attributes hash matches, number hash matches, signature verifies)
fn check_input_support(card: &SoftwareCard) -> (bool, bool, bool) {
    let (signer, cv_ok) = cv_certificate(card, &aid::INPUT_SUPPORT);
    assert!(cv_ok, "input-support CV certificate");
    let ef = |fid| card.ef(&aid::INPUT_SUPPORT, fid).expect("EF");
    let items = children(ef(input_support::SIGNATURE)).expect("FF30");
    let hashes: Vec<u8> = items[..2]
        .iter()
        .flat_map(|(_, raw, _)| raw.clone())
        .collect();
    (
        find(&items, 0xDF32) == Sha256::digest(ef(input_support::BASIC_ATTRIBUTES)).as_slice(),
        find(&items, 0xDF31)
            == Sha256::digest(ef(input_support::INDIVIDUAL_NUMBER_NEVER_READ)).as_slice(),
        verifies(&signer, &hashes, find(&items, 0xDF33)),
    )
}

/// The chip's INTERNAL AUTHENTICATE answer verifies with the DF24 key.
fn live_chip(card: &mut SoftwareCard, chip_key: &PublicKey) -> bool {
    let number = card.facts().matching_number_b.clone();
    open(card, &aid::CARD_FACE, card_face::MATCHING_NUMBER_B);
    assert_eq!(sw(card, verify(number.as_bytes())), StatusWord::SUCCESS);
    let challenge = [0x5A; 32];
    let r = send(card, internal_auth(&challenge)).expect("link");
    assert_eq!(r.status(), StatusWord::SUCCESS);
    verifies(chip_key, &challenge, r.data())
}

/// The JPKI authentication key signs a DigestInfo that the certificate's key verifies.
fn auth_key_matches_certificate(card: &mut SoftwareCard) -> bool {
    open(card, &aid::JPKI, jpki::AUTH_PIN);
    assert_eq!(sw(card, verify(b"2468")), StatusWord::SUCCESS);
    assert_eq!(sw(card, select_ef(jpki::AUTH_KEY)), StatusWord::SUCCESS);
    let digest = Sha256::digest(b"challenge");
    let r = send(
        card,
        sign(&[&SHA256_DIGEST_INFO_PREFIX[..], &digest].concat()),
    )
    .expect("link");
    assert_eq!(r.status(), StatusWord::SUCCESS);
    let key = cert_key(card.ef(&aid::JPKI, jpki::AUTH_CERT).expect("cert"));
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, r.data())
        .is_ok()
}

fn jpki_chain_ok(card: &SoftwareCard) -> bool {
    let root = cert_key(Fixtures::embedded().cert(names::JPKI_ROOT).expect("root"));
    let ef = |fid| card.ef(&aid::JPKI, fid).expect("EF");
    let auth_ca = cert_key(ef(jpki::AUTH_CA_CERT));
    let sign_ca = cert_key(ef(jpki::SIGN_CA_CERT));
    cert_signed_by(ef(jpki::AUTH_CA_CERT), &root)
        && cert_signed_by(ef(jpki::SIGN_CA_CERT), &root)
        && cert_signed_by(ef(jpki::AUTH_CERT), &auth_ca)
        && cert_signed_by(ef(jpki::SIGN_CERT), &sign_ca)
}

#[test]
fn every_profile_builds() {
    for profile in Profile::all() {
        let card = profile.build().unwrap_or_else(|e| panic!("{profile}: {e}"));
        assert_eq!(card.facts().profile, profile.name());
    }
}

#[test]
fn genuine_card_verifies_everywhere() {
    let mut card = Profile::Genuine.build().expect("card");
    let face = check_card_face(&card);
    assert!(face.signature_ok);
    assert_eq!(face.birth_date, b"19900401");
    assert_eq!(face.expiry, b"20340401");
    assert_eq!(check_input_support(&card), (true, true, true));
    assert!(jpki_chain_ok(&card));
    assert!(live_chip(&mut card, &face.chip_key));
    assert!(auth_key_matches_certificate(&mut card));
    assert_eq!(card.facts().matching_number_b, "90040120341234");
}

#[test]
fn forged_ca_copies_names_but_not_keys() {
    let mut card = Profile::ForgedCa.build().expect("card");
    let genuine = Profile::Genuine.build().expect("card");
    let subject = |c: &SoftwareCard, fid| {
        Certificate::from_der(c.ef(&aid::JPKI, fid).expect("cert"))
            .expect("certificate")
            .tbs_certificate()
            .subject()
            .to_string()
    };
    assert_eq!(
        subject(&card, jpki::AUTH_CA_CERT),
        subject(&genuine, jpki::AUTH_CA_CERT)
    );
    assert_eq!(
        subject(&card, jpki::AUTH_CERT),
        subject(&genuine, jpki::AUTH_CERT)
    );
    assert!(!jpki_chain_ok(&card));
    // The CV certificates name the genuine issuer but do not verify under it.
    assert!(!cv_certificate(&card, &aid::CARD_FACE).1);
    assert!(!cv_certificate(&card, &aid::INPUT_SUPPORT).1);
    // The forged chip is self-consistent: its keys match its own (forged) certificates.
    assert!(auth_key_matches_certificate(&mut card));
}

#[test]
fn clone_carries_genuine_data_but_not_the_keys() {
    let mut card = Profile::Clone.build().expect("card");
    let genuine = Profile::Genuine.build().expect("card");
    for (app, fid) in [
        (aid::JPKI, jpki::AUTH_CERT),
        (aid::CARD_FACE, card_face::FACE_DATA),
        (aid::INPUT_SUPPORT, input_support::SIGNATURE),
    ] {
        assert_eq!(card.ef(&app, fid), genuine.ef(&app, fid));
    }
    let face = check_card_face(&card);
    assert!(face.signature_ok);
    assert_eq!(check_input_support(&card), (true, true, true));
    assert!(jpki_chain_ok(&card));
    assert!(!live_chip(&mut card, &face.chip_key));
    assert!(!auth_key_matches_certificate(&mut card));
}

#[test]
fn tampered_attribute_breaks_only_the_issuer_signatures() {
    let mut card = Profile::TamperedAttribute.build().expect("card");
    let face = check_card_face(&card);
    assert!(!face.signature_ok);
    assert_eq!(face.birth_date, b"19800401");
    assert_eq!(card.facts().matching_number_b, "80040120341234");
    let (attributes_hash, number_hash, signature) = check_input_support(&card);
    assert!(!attributes_hash && number_hash && signature);
    let attributes = card
        .ef(&aid::INPUT_SUPPORT, input_support::BASIC_ATTRIBUTES)
        .expect("EF");
    assert_eq!(
        find(&children(attributes).expect("FF20"), 0xDF23),
        TAMPERED_ADDRESS.as_bytes()
    );
    assert!(live_chip(&mut card, &face.chip_key));
    assert!(jpki_chain_ok(&card));
}

#[test]
fn tampered_face_breaks_only_the_card_face_signature() {
    let mut card = Profile::TamperedFace.build().expect("card");
    let face = check_card_face(&card);
    assert!(!face.signature_ok);
    assert_eq!(check_input_support(&card), (true, true, true));
    assert!(live_chip(&mut card, &face.chip_key));
}

#[test]
fn expired_card_is_otherwise_genuine() {
    let mut card = Profile::ExpiredCard.build().expect("card");
    let face = check_card_face(&card);
    assert!(face.signature_ok);
    assert_eq!(face.expiry, b"20250401");
    assert_eq!(card.facts().matching_number_b, "90040120251234");
    assert!(live_chip(&mut card, &face.chip_key));
}

#[test]
fn extended_expiry_breaks_only_the_card_face_signature() {
    let mut card = Profile::ExtendedExpiry.build().expect("card");
    let face = check_card_face(&card);
    assert_eq!(face.expiry, b"20340401");
    assert_eq!(card.facts().matching_number_b, "90040120341234");
    assert!(!face.signature_ok, "DF28 must cover DF29");
    assert!(live_chip(&mut card, &face.chip_key));
    // Everything but DF29 (and the signature made over the expired date) is the genuine card's.
    let genuine = Profile::Genuine.build().expect("card");
    let tags = |c: &SoftwareCard| {
        children(c.ef(&aid::CARD_FACE, card_face::FACE_DATA).expect("EF")).expect("FF20")
    };
    let differing: Vec<u64> = tags(&card)
        .iter()
        .zip(tags(&genuine))
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0)
        .collect();
    assert_eq!(differing, [0xDF28]);
}

#[test]
fn certificate_profiles_carry_the_rule_breaking_certificates() {
    let fixtures = Fixtures::embedded();
    for (profile, auth, sign_cert) in [
        (
            Profile::ExpiredCertificate,
            names::CARD_AUTH_EXPIRED,
            names::CARD_SIGN_EXPIRED,
        ),
        (
            Profile::NotYetValidCertificate,
            names::CARD_AUTH_NOT_YET_VALID,
            names::CARD_SIGN_NOT_YET_VALID,
        ),
        (
            Profile::WrongKeyUsage,
            names::CARD_AUTH_WRONG_KU,
            names::CARD_SIGN_WRONG_KU,
        ),
        (
            Profile::Revoked,
            names::CARD_AUTH_REVOKED,
            names::CARD_SIGN_REVOKED,
        ),
    ] {
        let mut card = profile.build().expect("card");
        assert_eq!(
            card.ef(&aid::JPKI, jpki::AUTH_CERT),
            fixtures.cert(auth).ok()
        );
        assert_eq!(
            card.ef(&aid::JPKI, jpki::SIGN_CERT),
            fixtures.cert(sign_cert).ok()
        );
        assert!(jpki_chain_ok(&card), "{profile}: only one rule is broken");
        assert!(auth_key_matches_certificate(&mut card), "{profile}");
    }
}

#[test]
fn revoked_certificates_are_in_the_crls() {
    use x509_cert::crl::CertificateList;
    let fixtures = Fixtures::embedded();
    for (crl, cert) in [
        (names::AUTH_CRL, names::CARD_AUTH_REVOKED),
        (names::SIGN_CRL, names::CARD_SIGN_REVOKED),
    ] {
        let list = CertificateList::from_der(fixtures.file(crl).expect("crl")).expect("CRL");
        let serial = Certificate::from_der(fixtures.cert(cert).expect("cert"))
            .expect("certificate")
            .tbs_certificate()
            .serial_number()
            .clone();
        let revoked = list.tbs_cert_list.revoked_certificates.expect("entries");
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].serial_number, serial);
    }
}

#[test]
fn malformed_tlv_overruns_its_container() {
    let card = Profile::MalformedTlv.build().expect("card");
    for (app, fid) in [
        (aid::CARD_FACE, card_face::FACE_DATA),
        (aid::INPUT_SUPPORT, input_support::BASIC_ATTRIBUTES),
    ] {
        assert!(
            children(card.ef(&app, fid).expect("EF")).is_err(),
            "{fid:04X}"
        );
    }
}
