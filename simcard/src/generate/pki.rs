//! The test PKI: which keys exist, which certificate each key gets, and the CRLs.
//!
//! ```text
//! jpki-root (self-signed, anchor)
//! ├── jpki-auth-ca (pathLen 0) ── card-auth, card-auth-{expired,not-yet-valid,wrong-ku,revoked}
//! └── jpki-sign-ca (pathLen 0) ── card-sign, card-sign-{expired,not-yet-valid,wrong-ku,revoked}
//! jlis-data-issuer (self-signed, anchor) ── CV certificates of card-face-signer, input-support-signer
//! forger-root (same DN as jpki-root, other key)
//! ├── forger-auth-ca (same DN as jpki-auth-ca) ── forged-auth
//! └── forger-sign-ca (same DN as jpki-sign-ca) ── forged-sign
//! forger-data-issuer (same DN as jlis-data-issuer) ── CV certificate of forger-data-signer
//! ```

use std::collections::BTreeMap;

use der::flagset::FlagSet;
use honnin_core::card::profile::jpki;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rsa::{PrivateKey, PublicKey};
use sha2::{Digest, Sha256};
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::KeyUsages;
use x509_cert::time::Validity;

use super::x509::{
    CertSpec, basic_constraints_ca, crl, issue, key_usage, name, other_names, policy, utc, validity,
};
use crate::error::SimError;
use crate::holder::{Holder, TEST_HOLDER};
use crate::names::*;

/// The label each key's seed is derived from.
pub fn seed_label(key_name: &str) -> String {
    format!("honnin test pki v1 / {key_name}")
}

/// Derives an RSA-2048 key from SHA-256 of its label, through ChaCha20. The same label and the
/// same versions of `rsa`/`crypto-primes` always give the same key (Cargo.lock pins them).
pub fn derive_key(key_name: &str) -> Result<PrivateKey, SimError> {
    let seed: [u8; 32] = Sha256::digest(seed_label(key_name).as_bytes()).into();
    let mut rng = ChaCha20Rng::from_seed(seed);
    Ok(PrivateKey::new(&mut rng, 2048)?)
}

/// Distinguished names. The test PKI says TEST in its organisation so that nobody can mistake its
/// certificates for J-LIS's; the forger copies these names exactly.
pub mod dn {
    pub const ROOT: &str = "OU=honnin test J-LIS root,O=JPKI TEST,C=JP";
    pub const AUTH_CA: &str =
        "OU=honnin test J-LIS,OU=JPKI for user authentication,O=JPKI TEST,C=JP";
    pub const SIGN_CA: &str = "OU=honnin test J-LIS,OU=JPKI for digital signature,O=JPKI TEST,C=JP";
    pub const DATA_ISSUER: &str =
        "OU=honnin test J-LIS,OU=card-face and input-support data issuer,O=JPKI TEST,C=JP";
    /// Authentication certificates carry no personal attribute, only an identifier.
    pub const CARD_AUTH: &str = "CN=HONNIN TEST AUTH 0001,O=JPKI TEST,C=JP";
    pub const CARD_SIGN: &str = "CN=HONNIN TEST SIGN 0001,L=Chiyoda-ku,L=Tokyo-to,C=JP";
}

/// Serial numbers (fixed, so that the CRL can name them).
pub mod serial {
    pub const ROOT: u32 = 0x01;
    pub const AUTH_CA: u32 = 0x02;
    pub const SIGN_CA: u32 = 0x03;
    pub const DATA_ISSUER: u32 = 0x04;
    pub const CARD_AUTH: u32 = 0x1001;
    pub const CARD_AUTH_EXPIRED: u32 = 0x1002;
    pub const CARD_AUTH_NOT_YET_VALID: u32 = 0x1003;
    pub const CARD_AUTH_WRONG_KU: u32 = 0x1004;
    pub const CARD_AUTH_REVOKED: u32 = 0x1005;
    pub const CARD_SIGN: u32 = 0x2001;
    pub const CARD_SIGN_EXPIRED: u32 = 0x2002;
    pub const CARD_SIGN_NOT_YET_VALID: u32 = 0x2003;
    pub const CARD_SIGN_WRONG_KU: u32 = 0x2004;
    pub const CARD_SIGN_REVOKED: u32 = 0x2005;
}

/// Validity periods (UTC). Tests check at the fixed instant 2026-11-25.
pub mod period {
    use x509_cert::time::Validity;

    use super::validity;

    pub fn root() -> Validity {
        validity((2018, 1, 1), (2039, 12, 31))
    }
    pub fn ca() -> Validity {
        validity((2018, 1, 1), (2037, 12, 31))
    }
    pub fn end_entity() -> Validity {
        validity((2025, 6, 1), (2030, 5, 31))
    }
    pub fn expired() -> Validity {
        validity((2019, 6, 1), (2024, 5, 31))
    }
    pub fn not_yet_valid() -> Validity {
        validity((2031, 6, 1), (2036, 5, 31))
    }
}

/// Every key of [`KEYS`], derived.
pub struct Keys(BTreeMap<&'static str, PrivateKey>);

impl Keys {
    pub fn derive_all(mut progress: impl FnMut(&str)) -> Result<Self, SimError> {
        let mut keys = BTreeMap::new();
        for name in KEYS {
            progress(name);
            keys.insert(*name, derive_key(name)?);
        }
        Ok(Self(keys))
    }

    pub fn get(&self, name: &str) -> Result<&PrivateKey, SimError> {
        self.0
            .get(name)
            .ok_or_else(|| SimError::Encoding(format!("no key named {name}")))
    }

    pub fn public(&self, name: &str) -> Result<&PublicKey, SimError> {
        Ok(self.get(name)?.as_public_key())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &PrivateKey)> {
        self.0.iter().map(|(name, key)| (*name, key))
    }
}

/// The issued certificates and CRLs.
pub struct Issued {
    pub certs: BTreeMap<&'static str, Certificate>,
    pub crls: BTreeMap<&'static str, Vec<u8>>,
}

fn ca_spec(
    subject: &str,
    issuer: &str,
    serial: u32,
    period: Validity,
) -> Result<CertSpec, SimError> {
    let self_signed = subject == issuer;
    Ok(CertSpec {
        subject: name(subject)?,
        issuer: name(issuer)?,
        serial,
        validity: period,
        extensions: vec![
            basic_constraints_ca(if self_signed { None } else { Some(0) })?,
            key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)?,
        ],
    })
}

/// The card-data issuer's certificate: a self-signed wrapper of the key that signs CV
/// certificates, with no power to issue X.509 certificates (no cA, KeyUsage digitalSignature
/// only). That is what puts it in the CV-issuer anchor pool and never among the JPKI roots
/// (docs/card-model-changes.md, issue 17).
fn data_issuer_spec() -> Result<CertSpec, SimError> {
    Ok(CertSpec {
        subject: name(dn::DATA_ISSUER)?,
        issuer: name(dn::DATA_ISSUER)?,
        serial: serial::DATA_ISSUER,
        validity: period::root(),
        extensions: vec![key_usage(KeyUsages::DigitalSignature)?],
    })
}

/// The six holder attributes of a signing certificate, as `otherName`s under
/// 1.2.392.200149.8.5.5, in the order one real card was observed to use (1, 4, 3, 5, 2, 6), so
/// that no reader comes to rely on numeric order.
fn holder_attributes(holder: &Holder) -> Vec<(String, String)> {
    let arc = jpki::ATTRIBUTE_OID_ARC;
    vec![
        (format!("{arc}.1"), holder.name.to_owned()),
        (format!("{arc}.4"), holder.jpki_birth_date()),
        (format!("{arc}.3"), holder.sex.code().to_owned()),
        (format!("{arc}.5"), holder.address.to_owned()),
        (format!("{arc}.2"), Holder::no_substitutes(holder.name)),
        (format!("{arc}.6"), Holder::no_substitutes(holder.address)),
    ]
}

fn auth_spec(
    serial: u32,
    period: Validity,
    usage: FlagSet<KeyUsages>,
) -> Result<CertSpec, SimError> {
    Ok(CertSpec {
        subject: name(dn::CARD_AUTH)?,
        issuer: name(dn::AUTH_CA)?,
        serial,
        validity: period,
        extensions: vec![key_usage(usage)?, policy(jpki::POLICY_AUTHENTICATION)?],
    })
}

fn sign_spec(
    serial: u32,
    period: Validity,
    usage: FlagSet<KeyUsages>,
) -> Result<CertSpec, SimError> {
    let attributes = holder_attributes(&TEST_HOLDER);
    let pairs: Vec<(&str, &str)> = attributes
        .iter()
        .map(|(oid, value)| (oid.as_str(), value.as_str()))
        .collect();
    Ok(CertSpec {
        subject: name(dn::CARD_SIGN)?,
        issuer: name(dn::SIGN_CA)?,
        serial,
        validity: period,
        extensions: vec![
            key_usage(usage)?,
            policy(jpki::POLICY_SIGNING)?,
            other_names(&pairs)?,
        ],
    })
}

/// Issues every certificate and CRL of the test PKI.
pub fn issue_all(keys: &Keys) -> Result<Issued, SimError> {
    use KeyUsages::{DigitalSignature, KeyCertSign, KeyEncipherment, NonRepudiation};
    let mut certs = BTreeMap::new();
    let auth_usage: FlagSet<KeyUsages> = DigitalSignature.into();
    let sign_usage = NonRepudiation | DigitalSignature;

    // Each entry: certificate name, spec, subject key, issuer key.
    let plan: Vec<(&'static str, CertSpec, &str, &str)> = vec![
        (
            JPKI_ROOT,
            ca_spec(dn::ROOT, dn::ROOT, serial::ROOT, period::root())?,
            JPKI_ROOT,
            JPKI_ROOT,
        ),
        (
            JPKI_AUTH_CA,
            ca_spec(dn::AUTH_CA, dn::ROOT, serial::AUTH_CA, period::ca())?,
            JPKI_AUTH_CA,
            JPKI_ROOT,
        ),
        (
            JPKI_SIGN_CA,
            ca_spec(dn::SIGN_CA, dn::ROOT, serial::SIGN_CA, period::ca())?,
            JPKI_SIGN_CA,
            JPKI_ROOT,
        ),
        (DATA_ISSUER, data_issuer_spec()?, DATA_ISSUER, DATA_ISSUER),
        (
            CARD_AUTH,
            auth_spec(serial::CARD_AUTH, period::end_entity(), auth_usage)?,
            CARD_AUTH,
            JPKI_AUTH_CA,
        ),
        (
            CARD_SIGN,
            sign_spec(serial::CARD_SIGN, period::end_entity(), sign_usage)?,
            CARD_SIGN,
            JPKI_SIGN_CA,
        ),
        (
            CARD_AUTH_EXPIRED,
            auth_spec(serial::CARD_AUTH_EXPIRED, period::expired(), auth_usage)?,
            CARD_AUTH,
            JPKI_AUTH_CA,
        ),
        (
            CARD_SIGN_EXPIRED,
            sign_spec(serial::CARD_SIGN_EXPIRED, period::expired(), sign_usage)?,
            CARD_SIGN,
            JPKI_SIGN_CA,
        ),
        (
            CARD_AUTH_NOT_YET_VALID,
            auth_spec(
                serial::CARD_AUTH_NOT_YET_VALID,
                period::not_yet_valid(),
                auth_usage,
            )?,
            CARD_AUTH,
            JPKI_AUTH_CA,
        ),
        (
            CARD_SIGN_NOT_YET_VALID,
            sign_spec(
                serial::CARD_SIGN_NOT_YET_VALID,
                period::not_yet_valid(),
                sign_usage,
            )?,
            CARD_SIGN,
            JPKI_SIGN_CA,
        ),
        // keyCertSign only: no digitalSignature, so the key may not sign a challenge.
        (
            CARD_AUTH_WRONG_KU,
            auth_spec(
                serial::CARD_AUTH_WRONG_KU,
                period::end_entity(),
                KeyCertSign.into(),
            )?,
            CARD_AUTH,
            JPKI_AUTH_CA,
        ),
        // keyEncipherment only: neither nonRepudiation nor digitalSignature.
        (
            CARD_SIGN_WRONG_KU,
            sign_spec(
                serial::CARD_SIGN_WRONG_KU,
                period::end_entity(),
                KeyEncipherment.into(),
            )?,
            CARD_SIGN,
            JPKI_SIGN_CA,
        ),
        (
            CARD_AUTH_REVOKED,
            auth_spec(serial::CARD_AUTH_REVOKED, period::end_entity(), auth_usage)?,
            CARD_AUTH,
            JPKI_AUTH_CA,
        ),
        (
            CARD_SIGN_REVOKED,
            sign_spec(serial::CARD_SIGN_REVOKED, period::end_entity(), sign_usage)?,
            CARD_SIGN,
            JPKI_SIGN_CA,
        ),
        // The forger copies names and serial numbers; only the keys differ.
        (
            FORGER_ROOT,
            ca_spec(dn::ROOT, dn::ROOT, serial::ROOT, period::root())?,
            FORGER_ROOT,
            FORGER_ROOT,
        ),
        (
            FORGER_AUTH_CA,
            ca_spec(dn::AUTH_CA, dn::ROOT, serial::AUTH_CA, period::ca())?,
            FORGER_AUTH_CA,
            FORGER_ROOT,
        ),
        (
            FORGER_SIGN_CA,
            ca_spec(dn::SIGN_CA, dn::ROOT, serial::SIGN_CA, period::ca())?,
            FORGER_SIGN_CA,
            FORGER_ROOT,
        ),
        (
            FORGER_DATA_ISSUER,
            data_issuer_spec()?,
            FORGER_DATA_ISSUER,
            FORGER_DATA_ISSUER,
        ),
        (
            FORGED_AUTH,
            auth_spec(serial::CARD_AUTH, period::end_entity(), auth_usage)?,
            FORGED_AUTH,
            FORGER_AUTH_CA,
        ),
        (
            FORGED_SIGN,
            sign_spec(serial::CARD_SIGN, period::end_entity(), sign_usage)?,
            FORGED_SIGN,
            FORGER_SIGN_CA,
        ),
    ];
    for (cert_name, spec, subject_key, issuer_key) in plan {
        let cert = issue(spec, keys.public(subject_key)?, keys.get(issuer_key)?)?;
        certs.insert(cert_name, cert);
    }

    let this_update = utc(2026, 11, 1, 0, 0, 0);
    let next_update = utc(2026, 12, 31, 23, 59, 59);
    let revoked_at = utc(2026, 10, 1, 0, 0, 0);
    let mut crls = BTreeMap::new();
    for (path, ca, serial) in [
        (AUTH_CRL, JPKI_AUTH_CA, serial::CARD_AUTH_REVOKED),
        (SIGN_CRL, JPKI_SIGN_CA, serial::CARD_SIGN_REVOKED),
    ] {
        let issuer = certs
            .get(ca)
            .ok_or_else(|| SimError::Encoding(format!("{ca} was not issued")))?;
        let list = crl(
            issuer,
            keys.get(ca)?,
            1,
            this_update,
            next_update,
            &[(serial, revoked_at)],
        )?;
        crls.insert(path, list);
    }
    Ok(Issued { certs, crls })
}
