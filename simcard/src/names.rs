//! Names of the test PKI's keys and certificates, shared by the generator and the loader.
//!
//! Each key `<name>` is committed as `fixtures/pki/<name>.key.pem` (PKCS#8), each certificate as
//! `fixtures/pki/<name>.cert.der`. Keys are derived from `honnin test pki v1 / <name>`.

/// Test J-LIS root: self-signed, the trust anchor of both JPKI chains.
pub const JPKI_ROOT: &str = "jpki-root";
/// JPKI user-authentication CA (pathLen 0), issued by the root; on the card in EF 000B.
pub const JPKI_AUTH_CA: &str = "jpki-auth-ca";
/// JPKI signing CA (pathLen 0), issued by the root; on the card in EF 0002.
pub const JPKI_SIGN_CA: &str = "jpki-sign-ca";
/// The key that signs card-face and input-support CV certificates: a self-signed trust anchor.
pub const DATA_ISSUER: &str = "jlis-data-issuer";
/// The CV-certified key that signs card-face `DF28`.
pub const CARD_FACE_SIGNER: &str = "card-face-signer";
/// The CV-certified key that signs input-support `DF33`.
pub const INPUT_SUPPORT_SIGNER: &str = "input-support-signer";

/// The genuine chip's keys: JPKI authentication, JPKI signing, card-face (`DF24`).
pub const CARD_AUTH: &str = "card-auth";
pub const CARD_SIGN: &str = "card-sign";
pub const CARD_FACE: &str = "card-face";

/// The clone chip's keys: it carries the genuine card's data and certificates but cannot have
/// its private keys.
pub const CLONE_AUTH: &str = "clone-auth";
pub const CLONE_SIGN: &str = "clone-sign";
pub const CLONE_FACE: &str = "clone-face";

/// The forger's CAs: same names as the test PKI's, other keys.
pub const FORGER_ROOT: &str = "forger-root";
pub const FORGER_AUTH_CA: &str = "forger-auth-ca";
pub const FORGER_SIGN_CA: &str = "forger-sign-ca";
pub const FORGER_DATA_ISSUER: &str = "forger-data-issuer";
pub const FORGER_DATA_SIGNER: &str = "forger-data-signer";
/// The forged chip's keys, certified by the forger's CAs.
pub const FORGED_AUTH: &str = "forged-auth";
pub const FORGED_SIGN: &str = "forged-sign";
pub const FORGED_FACE: &str = "forged-face";

/// Every key the generator derives, in generation order.
pub const KEYS: &[&str] = &[
    JPKI_ROOT,
    JPKI_AUTH_CA,
    JPKI_SIGN_CA,
    DATA_ISSUER,
    CARD_FACE_SIGNER,
    INPUT_SUPPORT_SIGNER,
    CARD_AUTH,
    CARD_SIGN,
    CARD_FACE,
    CLONE_AUTH,
    CLONE_SIGN,
    CLONE_FACE,
    FORGER_ROOT,
    FORGER_AUTH_CA,
    FORGER_SIGN_CA,
    FORGER_DATA_ISSUER,
    FORGER_DATA_SIGNER,
    FORGED_AUTH,
    FORGED_SIGN,
    FORGED_FACE,
];

/// Certificates for the genuine card's keys that each break exactly one rule.
pub const CARD_AUTH_EXPIRED: &str = "card-auth-expired";
pub const CARD_SIGN_EXPIRED: &str = "card-sign-expired";
pub const CARD_AUTH_NOT_YET_VALID: &str = "card-auth-not-yet-valid";
pub const CARD_SIGN_NOT_YET_VALID: &str = "card-sign-not-yet-valid";
pub const CARD_AUTH_WRONG_KU: &str = "card-auth-wrong-ku";
pub const CARD_SIGN_WRONG_KU: &str = "card-sign-wrong-ku";
/// Listed in the test CRLs.
pub const CARD_AUTH_REVOKED: &str = "card-auth-revoked";
pub const CARD_SIGN_REVOKED: &str = "card-sign-revoked";

/// Every certificate the generator writes.
pub const CERTS: &[&str] = &[
    JPKI_ROOT,
    JPKI_AUTH_CA,
    JPKI_SIGN_CA,
    DATA_ISSUER,
    CARD_AUTH,
    CARD_SIGN,
    CARD_AUTH_EXPIRED,
    CARD_SIGN_EXPIRED,
    CARD_AUTH_NOT_YET_VALID,
    CARD_SIGN_NOT_YET_VALID,
    CARD_AUTH_WRONG_KU,
    CARD_SIGN_WRONG_KU,
    CARD_AUTH_REVOKED,
    CARD_SIGN_REVOKED,
    FORGER_ROOT,
    FORGER_AUTH_CA,
    FORGER_SIGN_CA,
    FORGER_DATA_ISSUER,
    FORGED_AUTH,
    FORGED_SIGN,
];

/// CRLs, one per issuing CA, each listing the `*-revoked` certificate it issued.
pub const AUTH_CRL: &str = "pki/jpki-auth-ca.crl.der";
pub const SIGN_CRL: &str = "pki/jpki-sign-ca.crl.der";

/// The trust-anchor directory a deployment would configure: the root in DER, the data issuer in
/// PEM (both forms occur in deployments, so the loader is tested on both).
pub const ANCHOR_ROOT: &str = "pki/anchors/test-jpki-root.cert.der";
pub const ANCHOR_DATA_ISSUER: &str = "pki/anchors/test-jlis-data-issuer.cert.pem";

/// Card-face images.
pub const FACE_IMAGE: &str = "images/face.jp2";
/// Another person's photo, for the tampered-face profile.
pub const SWAPPED_FACE_IMAGE: &str = "images/face-swapped.jp2";
pub const NAME_IMAGE: &str = "images/name.png";
pub const ADDRESS_IMAGE: &str = "images/address.png";
pub const SECURITY_CODE_IMAGE: &str = "images/security-code.png";

pub fn key_path(name: &str) -> String {
    format!("pki/{name}.key.pem")
}

pub fn cert_path(name: &str) -> String {
    format!("pki/{name}.cert.der")
}

/// The genuine card's readable EFs, dumped under `cards/genuine/` for tests of parsers that cannot
/// depend on this crate: `(file name, AID, FID)`. Input-support EF 0001 (the Individual Number)
/// is deliberately absent.
pub fn genuine_card_dumps() -> Vec<(String, [u8; 10], u16)> {
    use honnin_core::card::profile::{aid, card_face, input_support, jpki};
    let mut out = Vec::new();
    for (app, aid, fids) in [
        (
            "jpki",
            aid::JPKI,
            &[
                jpki::TOKEN,
                jpki::AUTH_CERT,
                jpki::AUTH_CA_CERT,
                jpki::SIGN_CERT,
                jpki::SIGN_CA_CERT,
            ][..],
        ),
        (
            "input-support",
            aid::INPUT_SUPPORT,
            &[
                input_support::BASIC_ATTRIBUTES,
                input_support::SIGNATURE,
                input_support::CV_CERT,
                input_support::AP_INFO,
            ][..],
        ),
        (
            "card-face",
            aid::CARD_FACE,
            &[card_face::FACE_DATA, card_face::CV_CERT][..],
        ),
    ] {
        for fid in fids {
            out.push((format!("cards/genuine/{app}-{fid:04X}.bin"), aid, *fid));
        }
    }
    out
}
