//! Trust configuration from files: the anchor directory and the operator's revocation lists.

use std::path::{Path, PathBuf};

use honnin_core::check::Verifier;
use honnin_core::verify::x509::{RevocationList, TrustAnchors};

use crate::error::CliError;

/// A verifier trusting the anchors in `directory`, with the CRLs in `crls` (DER).
pub fn load_verifier(directory: &Path, crls: &[PathBuf]) -> Result<Verifier, CliError> {
    let anchors = TrustAnchors::load_dir(directory).map_err(|e| {
        CliError::Environment(format!("trust anchors in {}: {e}", directory.display()))
    })?;
    let mut lists = Vec::new();
    for path in crls {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?;
        lists.push(
            RevocationList::from_der(&bytes)
                .map_err(|e| CliError::Environment(format!("{}: {e}", path.display())))?,
        );
    }
    Ok(Verifier::new(anchors).with_revocation_lists(lists))
}
