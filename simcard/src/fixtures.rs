//! The committed fixtures (fixtures/ at the workspace root), embedded with `include_bytes!` so that
//! the software card works from any directory, or read from a directory (used by the generator
//! right after it wrote them).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rsa::PrivateKey;
use rsa::pkcs8::DecodePrivateKey;

use crate::error::SimError;
use crate::names;

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        /// Every committed fixture file, by path relative to fixtures/.
        const EMBEDDED: &[(&str, &[u8])] = &[
            $(($path, include_bytes!(concat!("../../fixtures/", $path)))),*
        ];
    };
}

embedded![
    "images/address.png",
    "images/face-swapped.jp2",
    "images/face.jp2",
    "images/name.png",
    "images/security-code.png",
    "pki/anchors/test-jlis-data-issuer.cert.pem",
    "pki/anchors/test-jpki-root.cert.der",
    "pki/card-auth-expired.cert.der",
    "pki/card-auth-not-yet-valid.cert.der",
    "pki/card-auth-revoked.cert.der",
    "pki/card-auth-wrong-ku.cert.der",
    "pki/card-auth.cert.der",
    "pki/card-auth.key.pem",
    "pki/card-face-signer.key.pem",
    "pki/card-face.key.pem",
    "pki/card-sign-expired.cert.der",
    "pki/card-sign-not-yet-valid.cert.der",
    "pki/card-sign-revoked.cert.der",
    "pki/card-sign-wrong-ku.cert.der",
    "pki/card-sign.cert.der",
    "pki/card-sign.key.pem",
    "pki/clone-auth.key.pem",
    "pki/clone-face.key.pem",
    "pki/clone-sign.key.pem",
    "pki/forged-auth.cert.der",
    "pki/forged-auth.key.pem",
    "pki/forged-face.key.pem",
    "pki/forged-sign.cert.der",
    "pki/forged-sign.key.pem",
    "pki/forger-auth-ca.cert.der",
    "pki/forger-auth-ca.key.pem",
    "pki/forger-data-issuer.cert.der",
    "pki/forger-data-issuer.key.pem",
    "pki/forger-data-signer.key.pem",
    "pki/forger-root.cert.der",
    "pki/forger-root.key.pem",
    "pki/forger-sign-ca.cert.der",
    "pki/forger-sign-ca.key.pem",
    "pki/input-support-signer.key.pem",
    "pki/jlis-data-issuer.cert.der",
    "pki/jlis-data-issuer.key.pem",
    "pki/jpki-auth-ca.cert.der",
    "pki/jpki-auth-ca.crl.der",
    "pki/jpki-auth-ca.key.pem",
    "pki/jpki-root.cert.der",
    "pki/jpki-root.key.pem",
    "pki/jpki-sign-ca.cert.der",
    "pki/jpki-sign-ca.crl.der",
    "pki/jpki-sign-ca.key.pem",
];

/// A set of fixture files.
#[derive(Debug, Clone)]
pub struct Fixtures {
    files: BTreeMap<String, Cow<'static, [u8]>>,
}

/// The fixtures/ directory of the source tree (for tests that want paths, e.g. the trust-anchor
/// directory); the bytes themselves are always available through [`Fixtures::embedded`].
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The trust-anchor directory of the test PKI, as a deployment would configure it.
pub fn anchors_dir() -> PathBuf {
    fixtures_dir().join("pki/anchors")
}

impl Fixtures {
    /// The fixtures compiled into this crate.
    pub fn embedded() -> Self {
        Self {
            files: EMBEDDED
                .iter()
                .map(|(path, bytes)| ((*path).to_owned(), Cow::Borrowed(*bytes)))
                .collect(),
        }
    }

    /// The same files read from `dir` (a fixtures/ tree).
    pub fn from_dir(dir: &Path) -> Result<Self, SimError> {
        let mut files = BTreeMap::new();
        for (path, _) in EMBEDDED {
            let full = dir.join(path);
            let bytes = std::fs::read(&full).map_err(|e| SimError::io(&full, e))?;
            files.insert((*path).to_owned(), Cow::Owned(bytes));
        }
        Ok(Self { files })
    }

    /// Relative paths of every file, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// A file by its path relative to fixtures/ (e.g. `images/face.jp2`).
    pub fn file(&self, path: &str) -> Result<&[u8], SimError> {
        self.files
            .get(path)
            .map(|bytes| bytes.as_ref())
            .ok_or_else(|| SimError::fixture(path, "no such fixture"))
    }

    /// A certificate's DER by name (see [`names`]).
    pub fn cert(&self, name: &str) -> Result<&[u8], SimError> {
        self.file(&names::cert_path(name))
    }

    /// A private key by name, decoded from its PKCS#8 PEM.
    pub fn key(&self, name: &str) -> Result<PrivateKey, SimError> {
        let path = names::key_path(name);
        let pem =
            std::str::from_utf8(self.file(&path)?).map_err(|e| SimError::fixture(&path, e))?;
        PrivateKey::from_pkcs8_pem(pem).map_err(|e| SimError::fixture(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The embedded list and the generator's plan must name the same files.
    #[test]
    fn embedded_files_are_exactly_what_the_generator_writes() {
        let mut planned: BTreeSet<String> = BTreeSet::new();
        planned.extend(names::KEYS.iter().map(|k| names::key_path(k)));
        planned.extend(names::CERTS.iter().map(|c| names::cert_path(c)));
        planned.extend(
            [
                names::AUTH_CRL,
                names::SIGN_CRL,
                names::ANCHOR_ROOT,
                names::ANCHOR_DATA_ISSUER,
                names::FACE_IMAGE,
                names::SWAPPED_FACE_IMAGE,
                names::NAME_IMAGE,
                names::ADDRESS_IMAGE,
                names::SECURITY_CODE_IMAGE,
            ]
            .map(str::to_owned),
        );
        let embedded: BTreeSet<String> = Fixtures::embedded().paths().map(str::to_owned).collect();
        assert_eq!(embedded, planned);
    }

    #[test]
    fn every_key_decodes() {
        let fixtures = Fixtures::embedded();
        for name in names::KEYS {
            fixtures.key(name).expect(name);
        }
    }

    #[test]
    fn source_tree_matches_the_embedded_copy() {
        let on_disk = Fixtures::from_dir(&fixtures_dir()).expect("fixtures/ readable");
        for path in Fixtures::embedded().paths() {
            assert_eq!(
                on_disk.file(path).expect("present"),
                Fixtures::embedded().file(path).expect("present"),
                "{path}"
            );
        }
    }

    /// fixtures/cards/genuine/ must be what the genuine profile builds today.
    #[test]
    fn card_dumps_are_current() {
        let card = crate::Profile::Genuine.build().expect("genuine card");
        for (path, aid, fid) in names::genuine_card_dumps() {
            let on_disk = std::fs::read(fixtures_dir().join(&path)).expect(&path);
            assert_eq!(
                Some(&on_disk[..]),
                card.ef(&aid, fid),
                "{path}: run gen-fixtures"
            );
        }
    }

    #[test]
    fn face_photo_has_a_realistic_size() {
        let face = Fixtures::embedded()
            .file(names::FACE_IMAGE)
            .expect("face")
            .len();
        assert!((3_000..=4_500).contains(&face), "{face} bytes");
    }
}
