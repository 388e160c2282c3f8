//! The X.509 side of verification: trust anchors, JPKI certificate paths, revocation lists and
//! the holder attributes of signing certificates.
//!
//! - [`TrustAnchors`] — the configured anchors, trusted by key (never by name).
//! - [`validate_chain`] — path building and validation; a [`VerifiedKey`] exists only after it.
//! - [`check_revocation`] — an operator's CRL, verified with the issuing CA's key.
//! - [`SigningCertificateAttributes`] — name, address, birth date and sex of a signing certificate.
//!
//! # What real JPKI certificates look like (public facts these rules follow)
//! - The J-LIS roots in `shared/jpki-trust-anchors/` (2015 and 2023 generations, read with
//!   openssl): self-signed RSA-2048, sha256WithRSAEncryption, critical KeyUsage
//!   keyCertSign+cRLSign, critical cA without pathLenConstraint, subjectKeyIdentifier, no
//!   certificatePolicies. Both generations of a root share one subject name, so only the key tells
//!   them apart. They issue end-entity certificates directly (no intermediate).
//! - End-entity KeyUsage (openssl output of real certificates exported with the JPKI app, in a
//!   public write-up that cites J-LIS 公的個人認証サービス プロファイル仕様書,
//!   <https://www.j-lis.go.jp/file/13_profile_genkou.pdf>): signing certificate critical
//!   digitalSignature+nonRepudiation; authentication certificate critical digitalSignature.
//!   honnin asks digitalSignature for authentication and nonRepudiation *or* digitalSignature for
//!   signing.
//! - Policies (same profile specification as cited by public verifiers, and the JPKI OID names
//!   registered in jsrsasign): signing `1.2.392.200149.8.5.1.1.20` ("sign class 20"), carried in a
//!   **critical** certificatePolicies with a CPS qualifier; authentication
//!   `1.2.392.200149.8.5.1.3.30`; the JPKI test environment signs under `1.2.392.200149.8.5.1.0.20`.
//!   A policy passes when it equals the profile arc (`jpki::POLICY_*`) or lies below it, so
//!   production cards pass and test-environment cards do not.
//! - Holder attributes: see [`SigningCertificateAttributes`].
//!
//! Anything the rules above do not cover is refused: unknown critical extensions, algorithms
//! other than sha256WithRSAEncryption (and sha1WithRSAEncryption where a card profile allows it),
//! RSA keys outside 2048–4096 bits.

mod anchors;
mod attributes;
mod cert;
mod crl;
mod memo;
mod path;
mod report;
mod rules;

#[cfg(test)]
pub(crate) mod test_keys;
#[cfg(test)]
mod tests;

pub(crate) use anchors::read_anchor_dir;
pub use anchors::{AnchorError, AnchorPurpose, TrustAnchor, TrustAnchors};
pub use attributes::{AttributeError, Era, SigningCertificateAttributes};
pub(crate) use cert::ParsedCertificate;
pub use cert::{CertificateError, MAX_CERTIFICATE_LEN};
pub use crl::{
    CrlError, ListSource, MAX_CRL_LEN, RevocationList, check_revocation, check_revocation_among,
    check_revocation_of, select_revocation_list,
};
pub use path::{
    MAX_CHAIN_LEN, MAX_INTERMEDIATES, MAX_SIGNATURE_CHECKS, validate_chain, validate_chain_with,
};
pub use report::{ChainPolicy, ChainReport, KeyPurpose, VerifiedChain, VerifiedKey};

use der::asn1::ObjectIdentifier;

use crate::card::profile::jpki;
use crate::verify::time::UnixTime;

const POLICY_AUTHENTICATION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap(jpki::POLICY_AUTHENTICATION);
const POLICY_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap(jpki::POLICY_SIGNING);

/// The certificate-policy arc an end-entity certificate for `purpose` must carry (or lie under).
pub(crate) fn policy_arc(purpose: KeyPurpose) -> ObjectIdentifier {
    match purpose {
        KeyPurpose::Authentication => POLICY_AUTHENTICATION,
        KeyPurpose::Signing => POLICY_SIGNING,
    }
}

/// `YYYY-MM-DD` (UTC) for details in check results.
pub fn date(seconds: i64) -> String {
    let (year, month, day) = UnixTime(seconds).date();
    format!("{year:04}-{month:02}-{day:02}")
}
