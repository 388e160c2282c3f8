//! The software phone's test issuer PKI: an IACA root, the document signer it certified, and a
//! forger's pair with the same names and other keys. EC P-256 throughout, as 18013-5 issuers use.
//!
//! Deterministic: every key is `SHA-256("honnin test mdoc pki v1 / <name>")` taken as a P-256
//! scalar, and ECDSA signatures are RFC 6979, so the certificates are the same bytes on every
//! run. `gen-fixtures` writes them under `fixtures/pki/mdoc/` (see fixtures/README.md); a test
//! checks the committed files against this module. The keys protect nothing.

use der::asn1::ObjectIdentifier;
use der::{Encode, EncodePem};
use p256::SecretKey;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePrivateKey;
use sha2::{Digest, Sha256};
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsages};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::error::SimError;
use crate::generate::x509::{
    FixedProfile, basic_constraints_ca, extension, key_usage, name, validity,
};

pub const IACA: &str = "mdoc-iaca";
pub const DOCUMENT_SIGNER: &str = "mdoc-document-signer";
pub const FORGER_IACA: &str = "mdoc-forger-iaca";
pub const FORGER_DOCUMENT_SIGNER: &str = "mdoc-forger-document-signer";
/// The phone's device key (the MSO binds it) and the clone phone's own key.
pub const DEVICE_KEY: &str = "mdoc-device";
pub const CLONE_DEVICE_KEY: &str = "mdoc-clone-device";
/// The phone's ephemeral session key of its engagement.
pub const EPHEMERAL_KEY: &str = "mdoc-ephemeral";
/// The reader key of the "earlier session" the replay profile recorded.
pub const EARLIER_READER_KEY: &str = "mdoc-earlier-reader";

/// Where `gen-fixtures` writes the anchor a deployment would configure for the software phone.
pub const ANCHOR_PATH: &str = "pki/mdoc/anchors/test-mdoc-iaca.cert.pem";
const IACA_DN: &str = "CN=honnin test IACA,O=honnin test,C=JP";
const DS_DN: &str = "CN=honnin test mdoc document signer,O=honnin test,C=JP";
/// id-mdl-kp-mdlDS.
const EKU_MDOC_DS: &str = "1.0.18013.5.1.2";

/// A deterministic P-256 key for `label`.
pub fn key(label: &str) -> SecretKey {
    let mut seed: [u8; 32] = Sha256::digest(format!("honnin test mdoc pki v1 / {label}")).into();
    loop {
        if let Ok(key) = SecretKey::from_slice(&seed) {
            return key;
        }
        // Probability ~2^-32 per label; rehash rather than fail.
        seed = Sha256::digest(seed).into();
    }
}

/// The test issuer PKI as DER certificates.
#[derive(Debug, Clone)]
pub struct MdocPki {
    pub iaca: Vec<u8>,
    pub document_signer: Vec<u8>,
    pub forger_iaca: Vec<u8>,
    pub forger_document_signer: Vec<u8>,
}

fn issue(
    subject: &str,
    issuer: &str,
    serial: u32,
    subject_key: &SecretKey,
    issuer_key: &SecretKey,
    ca: bool,
) -> Result<Vec<u8>, SimError> {
    let mut extensions = Vec::new();
    if ca {
        extensions.push(basic_constraints_ca(Some(0))?);
        extensions.push(key_usage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)?);
    } else {
        extensions.push(key_usage(KeyUsages::DigitalSignature)?);
        let eku = ObjectIdentifier::new(EKU_MDOC_DS)
            .map_err(|e| SimError::Encoding(format!("EKU OID: {e}")))?;
        extensions.push(extension(&ExtendedKeyUsage(vec![eku]), true)?);
    }
    let profile = FixedProfile {
        subject: name(subject)?,
        issuer: name(issuer)?,
        extensions,
    };
    let spki = SubjectPublicKeyInfoOwned::from_key(&subject_key.public_key())
        .map_err(|e| SimError::Encoding(format!("SPKI: {e}")))?;
    let period = if ca {
        validity((2024, 1, 1), (2039, 12, 31))
    } else {
        validity((2025, 1, 1), (2031, 12, 31))
    };
    let builder = CertificateBuilder::new(profile, SerialNumber::from(serial), period, spki)
        .map_err(|e| SimError::Encoding(format!("certificate builder: {e}")))?;
    let signer = SigningKey::from(issuer_key);
    let cert = builder
        .build::<_, DerSignature>(&signer)
        .map_err(|e| SimError::Encoding(format!("certificate: {e}")))?;
    Ok(cert.to_der()?)
}

impl MdocPki {
    pub fn build() -> Result<Self, SimError> {
        let (iaca, ds) = (key(IACA), key(DOCUMENT_SIGNER));
        let (forger_iaca, forger_ds) = (key(FORGER_IACA), key(FORGER_DOCUMENT_SIGNER));
        Ok(Self {
            iaca: issue(IACA_DN, IACA_DN, 0x4001, &iaca, &iaca, true)?,
            document_signer: issue(DS_DN, IACA_DN, 0x4002, &ds, &iaca, false)?,
            // Same names and serial numbers, other keys: only a by-key check tells them apart.
            forger_iaca: issue(IACA_DN, IACA_DN, 0x4001, &forger_iaca, &forger_iaca, true)?,
            forger_document_signer: issue(DS_DN, IACA_DN, 0x4002, &forger_ds, &forger_iaca, false)?,
        })
    }

    /// The files `gen-fixtures` writes, relative to `fixtures/`: the anchor (PEM), every
    /// certificate (DER) and every key (PKCS#8 PEM).
    pub fn fixture_files(&self) -> Result<Vec<(String, Vec<u8>)>, SimError> {
        let pem = <x509_cert::Certificate as der::Decode>::from_der(&self.iaca)?
            .to_pem(der::pem::LineEnding::LF)?;
        let mut files = vec![(ANCHOR_PATH.to_owned(), pem.into_bytes())];
        for (label, der) in [
            (IACA, &self.iaca),
            (DOCUMENT_SIGNER, &self.document_signer),
            (FORGER_IACA, &self.forger_iaca),
            (FORGER_DOCUMENT_SIGNER, &self.forger_document_signer),
        ] {
            files.push((format!("pki/mdoc/{label}.cert.der"), der.clone()));
        }
        for label in [
            IACA,
            DOCUMENT_SIGNER,
            FORGER_IACA,
            FORGER_DOCUMENT_SIGNER,
            DEVICE_KEY,
            CLONE_DEVICE_KEY,
            EPHEMERAL_KEY,
            EARLIER_READER_KEY,
        ] {
            let pem = key(label)
                .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
                .map_err(|e| SimError::Encoding(format!("PKCS#8 {label}: {e}")))?;
            files.push((format!("pki/mdoc/{label}.key.pem"), pem.as_bytes().to_vec()));
        }
        Ok(files)
    }
}

/// Writes the mdoc PKI under `out` (normally `fixtures/`).
pub fn write_fixtures(out: &std::path::Path) -> Result<Vec<std::path::PathBuf>, SimError> {
    let mut written = Vec::new();
    for (relative, bytes) in MdocPki::build()?.fixture_files()? {
        let path = out.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| SimError::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}
