//! The deterministic test-fixture generator behind `cargo run -p honnin-simcard --release --bin
//! gen-fixtures`.
//!
//! Everything it writes is a pure function of the key labels, the constants in [`pki`] and
//! [`images`], and the crate versions in Cargo.lock: running it twice gives identical files.

pub mod images;
pub mod pki;
pub mod x509;

use std::path::{Path, PathBuf};

use der::{Encode, EncodePem};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use crate::error::SimError;
use crate::holder::TEST_HOLDER;
use crate::names::{self, ANCHOR_DATA_ISSUER, ANCHOR_ROOT, DATA_ISSUER, JPKI_ROOT};

/// Scale (pixels per glyph cell) of the card-face text images.
const TEXT_SCALE: usize = 4;

fn write(
    root: &Path,
    relative: &str,
    bytes: &[u8],
    written: &mut Vec<PathBuf>,
) -> Result<(), SimError> {
    let path = root.join(relative);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
    }
    std::fs::write(&path, bytes).map_err(|e| SimError::io(&path, e))?;
    written.push(path);
    Ok(())
}

/// Writes the whole fixture tree under `out` (normally `fixtures/`). Returns the files written.
///
/// `progress` is told what is being done; key derivation takes a few seconds per key in a
/// release build.
pub fn generate(out: &Path, mut progress: impl FnMut(&str)) -> Result<Vec<PathBuf>, SimError> {
    let mut written = Vec::new();

    let keys = pki::Keys::derive_all(|name| progress(&format!("deriving key {name}")))?;
    for (name, key) in keys.iter() {
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| SimError::Encoding(format!("PKCS#8 {name}: {e}")))?;
        write(out, &names::key_path(name), pem.as_bytes(), &mut written)?;
    }

    progress("issuing certificates and CRLs");
    let issued = pki::issue_all(&keys)?;
    for (name, cert) in &issued.certs {
        write(out, &names::cert_path(name), &cert.to_der()?, &mut written)?;
    }
    for (path, crl) in &issued.crls {
        write(out, path, crl, &mut written)?;
    }
    let anchor = |name: &str| {
        issued
            .certs
            .get(name)
            .ok_or_else(|| SimError::Encoding(format!("{name} was not issued")))
    };
    write(
        out,
        ANCHOR_ROOT,
        &anchor(JPKI_ROOT)?.to_der()?,
        &mut written,
    )?;
    let issuer_pem = anchor(DATA_ISSUER)?
        .to_pem(der::pem::LineEnding::LF)
        .map_err(SimError::from)?;
    write(out, ANCHOR_DATA_ISSUER, issuer_pem.as_bytes(), &mut written)?;

    progress("drawing card-face images");
    let work = std::env::temp_dir().join(format!("honnin-gen-fixtures-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| SimError::io(&work, e))?;
    let mut encoded = Ok(());
    for (path, portrait) in [
        (names::FACE_IMAGE, images::HOLDER_PORTRAIT),
        (names::SWAPPED_FACE_IMAGE, images::SWAPPED_PORTRAIT),
    ] {
        let face = out.join(path);
        if let Some(dir) = face.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SimError::io(dir, e))?;
        }
        encoded = images::encode_face_jp2(&work, &portrait, &face);
        if encoded.is_err() {
            break;
        }
        written.push(face);
    }
    // The scratch directory goes whether or not the encoder succeeded.
    let _ = std::fs::remove_dir_all(&work);
    encoded?;
    for (path, text) in [
        (names::NAME_IMAGE, TEST_HOLDER.name),
        (names::ADDRESS_IMAGE, TEST_HOLDER.address),
        (names::SECURITY_CODE_IMAGE, TEST_HOLDER.security_code),
    ] {
        write(
            out,
            path,
            &images::text_png(text, TEXT_SCALE)?,
            &mut written,
        )?;
    }

    progress("issuing the software phone's mdoc PKI");
    written.extend(crate::mdoc::pki::write_fixtures(out)?);

    progress("dumping the genuine card's EFs");
    let card = crate::Profile::Genuine.build_from(&crate::Fixtures::from_dir(out)?)?;
    for (path, aid, fid) in names::genuine_card_dumps() {
        let content = card
            .ef(&aid, fid)
            .ok_or_else(|| SimError::Encoding(format!("genuine card has no EF {fid:04X}")))?;
        write(out, &path, content, &mut written)?;
    }
    Ok(written)
}
