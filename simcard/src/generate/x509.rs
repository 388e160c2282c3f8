//! Building the test PKI's X.509 certificates and CRLs.
//!
//! The `x509-cert` builder is driven through one profile that takes its names and extensions from
//! the caller, so that a certificate can break exactly one rule (a wrong key usage, a validity in
//! the past) without the builder "fixing" it.

use std::str::FromStr;

use der::asn1::{BitString, ObjectIdentifier, OctetString, Utf8StringRef};
use der::oid::AssociatedOid;
use der::referenced::OwnedToRef;
use der::{Any, DateTime, Encode};
use rsa::pkcs1v15::{Signature, SigningKey};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::{PrivateKey, PublicKey};
use sha2::Sha256;
use spki::DynSignatureAlgorithmIdentifier;
use spki::SubjectPublicKeyInfoRef;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, CrlNumber, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};

use crate::error::SimError;

/// A UTC instant for validity periods and CRL times.
pub fn utc(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Time {
    // Every date in this module is a valid constant; a typo surfaces as an encoding error below.
    DateTime::new(year, month, day, hour, minute, second)
        .map(Time::from)
        .unwrap_or(Time::INFINITY)
}

/// A validity period from the start of `from` to the end of `until` (UTC).
pub fn validity(from: (u16, u8, u8), until: (u16, u8, u8)) -> Validity {
    Validity::new(
        utc(from.0, from.1, from.2, 0, 0, 0),
        utc(until.0, until.1, until.2, 23, 59, 59),
    )
}

pub fn name(rfc4514: &str) -> Result<Name, SimError> {
    Ok(Name::from_str(rfc4514)?)
}

/// Encodes an extension with an explicit criticality.
pub fn extension<T: AssociatedOid + Encode>(
    value: &T,
    critical: bool,
) -> Result<Extension, SimError> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

pub fn basic_constraints_ca(path_len: Option<u8>) -> Result<Extension, SimError> {
    extension(
        &BasicConstraints {
            ca: true,
            path_len_constraint: path_len,
        },
        true,
    )
}

pub fn key_usage(
    usages: impl Into<der::flagset::FlagSet<KeyUsages>>,
) -> Result<Extension, SimError> {
    extension(&KeyUsage(usages.into()), true)
}

pub fn policy(oid: &str) -> Result<Extension, SimError> {
    let policy_identifier = ObjectIdentifier::new(oid)
        .map_err(|e| SimError::Encoding(format!("policy OID {oid}: {e}")))?;
    extension(
        &CertificatePolicies(vec![PolicyInformation {
            policy_identifier,
            policy_qualifiers: None,
        }]),
        false,
    )
}

/// subjectAltName of `otherName`s, each value a UTF8String (see fixtures/README.md for why).
pub fn other_names(values: &[(&str, &str)]) -> Result<Extension, SimError> {
    let mut names = Vec::with_capacity(values.len());
    for (oid, value) in values {
        let type_id = ObjectIdentifier::new(oid)
            .map_err(|e| SimError::Encoding(format!("otherName OID {oid}: {e}")))?;
        let value = Any::encode_from(&Utf8StringRef::new(value)?)?;
        names.push(GeneralName::OtherName(OtherName { type_id, value }));
    }
    // Not critical: the subject DN is not empty.
    extension(&SubjectAltName(names), false)
}

/// Everything of a certificate except its keys.
pub struct CertSpec {
    pub subject: Name,
    pub issuer: Name,
    pub serial: u32,
    pub validity: Validity,
    /// Extensions other than the key identifiers, which are always added from the keys.
    pub extensions: Vec<Extension>,
}

/// A builder profile that takes names and extensions as given (the mdoc PKI uses it too).
pub(crate) struct FixedProfile {
    pub(crate) subject: Name,
    pub(crate) issuer: Name,
    pub(crate) extensions: Vec<Extension>,
}

impl BuilderProfile for FixedProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let issuer_ski = SubjectKeyIdentifier::try_from(issuer_spk)?;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(issuer_ski.0),
            ..Default::default()
        };
        let mut all = self.extensions.clone();
        for (oid, value) in [
            (SubjectKeyIdentifier::OID, ski.to_der()?),
            (AuthorityKeyIdentifier::OID, aki.to_der()?),
        ] {
            all.push(Extension {
                extn_id: oid,
                critical: false,
                extn_value: OctetString::new(value)?,
            });
        }
        Ok(all)
    }
}

/// Issues a certificate for `subject_key`, signed with SHA-256 and PKCS#1 v1.5 by `issuer_key`.
/// Signatures are deterministic, so the same inputs always give the same DER.
pub fn issue(
    spec: CertSpec,
    subject_key: &PublicKey,
    issuer_key: &PrivateKey,
) -> Result<Certificate, SimError> {
    let spki = SubjectPublicKeyInfoOwned::from_key(subject_key)?;
    let profile = FixedProfile {
        subject: spec.subject,
        issuer: spec.issuer,
        extensions: spec.extensions,
    };
    let builder = CertificateBuilder::new(
        profile,
        SerialNumber::from(spec.serial),
        spec.validity,
        spki,
    )?;
    let signer = SigningKey::<Sha256>::new(issuer_key.clone());
    Ok(builder.build::<_, Signature>(&signer)?)
}

/// A list by the fixtures' CA `ca` (e.g. `jpki-auth-ca`), for tests that need one dated on their
/// own terms: number `number`, issued `this_update`, next update `next_update`, revoking
/// `revoked`.
pub fn fixture_ca_list(
    ca: &str,
    number: u32,
    (this_update, next_update): (Time, Time),
    revoked: &[(u32, Time)],
) -> Result<Vec<u8>, SimError> {
    use der::Decode as _;
    let fixtures = crate::Fixtures::embedded();
    let issuer = Certificate::from_der(fixtures.cert(ca)?)
        .map_err(|e| SimError::Encoding(format!("fixture certificate {ca}: {e}")))?;
    crl(
        &issuer,
        &fixtures.key(ca)?,
        number,
        this_update,
        next_update,
        revoked,
    )
}

/// An X.509 v2 CRL by `issuer` listing `revoked` (serial numbers) as revoked at the given times.
///
/// Built by hand rather than with `x509_cert::builder::CrlBuilder`: version 0.3 of that builder
/// copies the issuer certificate's own authorityKeyIdentifier into the CRL (naming the issuer's
/// issuer), and OpenSSL then finds no CRL for the certificate. RFC 5280 §5.2.1 wants the key
/// identifier of the CRL signer, i.e. the issuer's subjectKeyIdentifier.
pub fn crl(
    issuer: &Certificate,
    issuer_key: &PrivateKey,
    number: u32,
    this_update: Time,
    next_update: Time,
    revoked: &[(u32, Time)],
) -> Result<Vec<u8>, SimError> {
    let entries: Vec<RevokedCert> = revoked
        .iter()
        .map(|(serial, at)| RevokedCert {
            serial_number: SerialNumber::from(*serial),
            revocation_date: *at,
            crl_entry_extensions: None,
        })
        .collect();
    let issuer_ski = SubjectKeyIdentifier::try_from(
        issuer
            .tbs_certificate()
            .subject_public_key_info()
            .owned_to_ref(),
    )?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(issuer_ski.0),
        ..Default::default()
    };
    let signer = SigningKey::<Sha256>::new(issuer_key.clone());
    let algorithm = signer.signature_algorithm_identifier()?;
    let tbs = TbsCertList {
        version: Version::V2,
        signature: algorithm.clone(),
        issuer: issuer.tbs_certificate().subject().clone(),
        this_update,
        next_update: Some(next_update),
        revoked_certificates: Some(entries),
        crl_extensions: Some(vec![
            extension(&CrlNumber::try_from(number)?, false)?,
            extension(&aki, false)?,
        ]),
    };
    let signature = signer
        .try_sign(&tbs.to_der()?)
        .map_err(|e| SimError::Rsa(e.to_string()))?;
    let list = CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature.to_bytes())?,
    };
    Ok(list.to_der()?)
}
