//! Test keys and a certificate factory that can break exactly one rule at a time.
//!
//! RSA-2048 key generation is slow, so each key is generated once per test binary from a fixed
//! seed and shared. The fixtures under `fixtures/pki/` (the test PKI of the software card) are
//! used by the fixture tests; these keys serve the rule-by-rule tests, which need certificates
//! the fixture set does not contain.

use std::str::FromStr;
use std::sync::OnceLock;

use der::asn1::{ObjectIdentifier, OctetString, Utf8StringRef};
use der::flagset::FlagSet;
use der::{Any, DateTime, Encode};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rsa::pkcs1v15::{Signature, SigningKey};
use rsa::{PrivateKey, PublicKey};
use sha2::Sha256;
use spki::SubjectPublicKeyInfoRef;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, Extensions};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::card::types::CertificateDer;

const KEY_COUNT: usize = 6;
static KEYS: [OnceLock<PrivateKey>; KEY_COUNT] = [const { OnceLock::new() }; KEY_COUNT];

/// Test key `index` (0..6), RSA-2048, the same in every run.
pub(crate) fn key(index: usize) -> &'static PrivateKey {
    KEYS[index].get_or_init(|| {
        let mut seed = [0u8; 32];
        seed[0] = 0x5A;
        seed[1] = index as u8;
        let mut rng = ChaCha20Rng::from_seed(seed);
        PrivateKey::new(&mut rng, 2048).expect("RSA-2048 key generation")
    })
}

pub(crate) fn public(index: usize) -> &'static PublicKey {
    key(index).as_public_key()
}

pub(crate) fn sign_sha256(index: usize, message: &[u8]) -> Vec<u8> {
    key(index)
        .pkcs1v15_sign::<Sha256>(message)
        .expect("signing")
}

/// The hash of the issuer's PKCS#1 v1.5 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha1,
    Sha384,
}

pub(crate) fn utc(year: u16, month: u8, day: u8) -> Time {
    Time::from(DateTime::new(year, month, day, 0, 0, 0).expect("valid date"))
}

/// Everything about a test certificate except its keys. Defaults: a valid CA for 2020–2035.
#[derive(Clone)]
pub(crate) struct Spec {
    pub subject: String,
    pub issuer: String,
    pub serial: u32,
    pub not_before: Time,
    pub not_after: Time,
    /// `None`: no BasicConstraints; `Some((ca, path_len))`.
    pub basic_constraints: Option<(bool, Option<u8>)>,
    pub key_usage: Option<FlagSet<KeyUsages>>,
    pub policies: Vec<&'static str>,
    pub policies_critical: bool,
    pub other_names: Vec<(String, String)>,
    /// Extra raw extensions (e.g. an unknown critical one).
    pub extra: Vec<Extension>,
    pub key_ids: bool,
    /// An authority key identifier to claim instead of the issuer key's own.
    pub claimed_authority_key_id: Option<Vec<u8>>,
    pub hash: Hash,
}

impl Spec {
    pub fn ca(subject: &str, issuer: &str) -> Self {
        Self {
            subject: subject.into(),
            issuer: issuer.into(),
            serial: 1,
            not_before: utc(2020, 1, 1),
            not_after: utc(2035, 12, 31),
            basic_constraints: Some((true, None)),
            key_usage: Some(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            policies: vec![],
            policies_critical: false,
            other_names: vec![],
            extra: vec![],
            key_ids: true,
            claimed_authority_key_id: None,
            hash: Hash::Sha256,
        }
    }

    pub fn end_entity(
        subject: &str,
        issuer: &str,
        usage: FlagSet<KeyUsages>,
        policy: &'static str,
    ) -> Self {
        Self {
            serial: 0x1001,
            not_before: utc(2025, 6, 1),
            not_after: utc(2030, 5, 31),
            basic_constraints: None,
            key_usage: Some(usage),
            policies: vec![policy],
            ..Self::ca(subject, issuer)
        }
    }
}

fn extension<T: der::oid::AssociatedOid + Encode>(value: &T, critical: bool) -> Extension {
    Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().expect("encodes")).expect("octet string"),
    }
}

pub(crate) fn raw_extension(oid: &str, critical: bool, value: &[u8]) -> Extension {
    Extension {
        extn_id: ObjectIdentifier::new(oid).expect("valid OID"),
        critical,
        extn_value: OctetString::new(value.to_vec()).expect("octet string"),
    }
}

struct Profile {
    spec: Spec,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        Name::from_str(&self.spec.issuer).expect("issuer DN")
    }

    fn get_subject(&self) -> Name {
        Name::from_str(&self.spec.subject).expect("subject DN")
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let spec = &self.spec;
        let mut all = Vec::new();
        if let Some((ca, path_len_constraint)) = spec.basic_constraints {
            all.push(extension(
                &BasicConstraints {
                    ca,
                    path_len_constraint,
                },
                true,
            ));
        }
        if let Some(usage) = spec.key_usage {
            all.push(extension(&KeyUsage(usage), true));
        }
        if !spec.policies.is_empty() {
            let policies = spec
                .policies
                .iter()
                .map(|oid| PolicyInformation {
                    policy_identifier: ObjectIdentifier::new(oid).expect("policy OID"),
                    policy_qualifiers: None,
                })
                .collect();
            all.push(extension(
                &CertificatePolicies(policies),
                spec.policies_critical,
            ));
        }
        if !spec.other_names.is_empty() {
            let names = spec
                .other_names
                .iter()
                .map(|(oid, value)| {
                    GeneralName::OtherName(OtherName {
                        type_id: ObjectIdentifier::new(oid).expect("OID"),
                        value: Any::encode_from(&Utf8StringRef::new(value).expect("utf8"))
                            .expect("any"),
                    })
                })
                .collect();
            all.push(extension(&SubjectAltName(names), false));
        }
        if spec.key_ids {
            let ski = SubjectKeyIdentifier::try_from(spk)?;
            let issuer_ski = SubjectKeyIdentifier::try_from(issuer_spk)?.0;
            let key_identifier = match &spec.claimed_authority_key_id {
                Some(claimed) => OctetString::new(claimed.clone()).expect("key id"),
                None => issuer_ski,
            };
            all.push(extension(&ski, false));
            all.push(extension(
                &AuthorityKeyIdentifier {
                    key_identifier: Some(key_identifier),
                    ..Default::default()
                },
                false,
            ));
        }
        all.extend(spec.extra.iter().cloned());
        Ok(all)
    }
}

/// Issues a certificate for key `subject` signed by key `issuer`.
pub(crate) fn issue(spec: &Spec, subject: usize, issuer: usize) -> CertificateDer {
    issue_for(spec, public(subject), issuer)
}

pub(crate) fn issue_for(spec: &Spec, subject_key: &PublicKey, issuer: usize) -> CertificateDer {
    let spki = SubjectPublicKeyInfoOwned::from_key(subject_key).expect("spki");
    let validity = Validity::new(spec.not_before, spec.not_after);
    let profile = Profile { spec: spec.clone() };
    let builder = CertificateBuilder::new(profile, SerialNumber::from(spec.serial), validity, spki)
        .expect("builder");
    let private = key(issuer).clone();
    let cert = match spec.hash {
        Hash::Sha256 => builder.build::<_, Signature>(&SigningKey::<Sha256>::new(private)),
        Hash::Sha1 => builder.build::<_, Signature>(&SigningKey::<sha1::Sha1>::new(private)),
        Hash::Sha384 => builder.build::<_, Signature>(&SigningKey::<sha2::Sha384>::new(private)),
    }
    .expect("certificate");
    CertificateDer(cert.to_der().expect("DER"))
}

/// Replaces every occurrence of one algorithm OID by another of the same encoded length (to make
/// a certificate that claims md5WithRSAEncryption without an MD5 implementation at hand).
pub(crate) fn swap_oid(der: &CertificateDer, from: &str, to: &str) -> CertificateDer {
    let from = ObjectIdentifier::new(from).expect("OID");
    let to = ObjectIdentifier::new(to).expect("OID");
    assert_eq!(from.as_bytes().len(), to.as_bytes().len());
    let mut bytes = der.0.clone();
    let pattern = from.as_bytes();
    let mut i = 0;
    while i + pattern.len() <= bytes.len() {
        if &bytes[i..i + pattern.len()] == pattern {
            bytes[i..i + pattern.len()].copy_from_slice(to.as_bytes());
        }
        i += 1;
    }
    CertificateDer(bytes)
}

/// An authorityKeyIdentifier extension naming key `index` (SHA-1 of its subjectPublicKey, as the
/// certificates' subjectKeyIdentifier is made).
pub(crate) fn authority_key_id_extension(index: usize) -> Extension {
    let spki = SubjectPublicKeyInfoOwned::from_key(public(index)).expect("spki");
    let id = <sha1::Sha1 as sha2::Digest>::digest(spki.subject_public_key.raw_bytes());
    extension(
        &AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(id.to_vec()).expect("key id")),
            ..Default::default()
        },
        false,
    )
}

/// A CRL issued under `issuer_name`, signed by key `signer`, listing `revoked` serials.
pub(crate) struct CrlSpec {
    pub issuer_name: String,
    pub this_update: Time,
    pub next_update: Option<Time>,
    pub revoked: Vec<u32>,
    pub extensions: Vec<Extension>,
    pub entry_extensions: Vec<Extension>,
}

impl CrlSpec {
    pub fn new(issuer_name: &str, revoked: Vec<u32>) -> Self {
        Self {
            issuer_name: issuer_name.into(),
            this_update: utc(2026, 11, 1),
            next_update: Some(utc(2026, 12, 31)),
            revoked,
            extensions: vec![raw_extension("2.5.29.20", false, &[0x02, 0x01, 0x01])],
            entry_extensions: vec![],
        }
    }
}

pub(crate) fn crl(spec: &CrlSpec, signer: usize) -> Vec<u8> {
    let algorithm = AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11"),
        parameters: Some(Any::null()),
    };
    let entries: Vec<RevokedCert> = spec
        .revoked
        .iter()
        .map(|serial| RevokedCert {
            serial_number: SerialNumber::from(*serial),
            revocation_date: utc(2026, 10, 1),
            crl_entry_extensions: (!spec.entry_extensions.is_empty())
                .then(|| spec.entry_extensions.clone() as Extensions),
        })
        .collect();
    let tbs = TbsCertList {
        version: x509_cert::Version::V2,
        signature: algorithm.clone(),
        issuer: Name::from_str(&spec.issuer_name).expect("issuer DN"),
        this_update: spec.this_update,
        next_update: spec.next_update,
        revoked_certificates: (!entries.is_empty()).then_some(entries),
        crl_extensions: (!spec.extensions.is_empty()).then(|| spec.extensions.clone()),
    };
    let tbs_der = tbs.to_der().expect("TBS DER");
    let signature = sign_sha256(signer, &tbs_der);
    CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: algorithm,
        signature: der::asn1::BitString::from_bytes(&signature).expect("bit string"),
    }
    .to_der()
    .expect("CRL DER")
}
