//! Which document the reader asks a phone for, and under which names: configuration, not
//! constants in the flow.
//!
//! ISO/IEC 18013-5 fixes the protocol; the document type, its namespace and its element names
//! are the issuer's. The mDL of 18013-5 itself is public ([`MdocProfile::iso_mdl`]). What the
//! Japanese My Number Card in Apple Wallet presents is not published in a form honnin could cite
//! (the Digital Agency names the "certified verification programs", not their data model), so
//! [`MdocProfile::jp_my_number_wallet_model`] is a **model** in the sense of card-model.md: one
//! concrete, documented choice — the ISO/IEC 23220 photo-ID naming — kept in this one place, to
//! be corrected when the real names are at hand. The software wallet follows whichever profile it
//! is built with.

use serde::Serialize;

/// A document type with its namespace and the element names the door check uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MdocProfile {
    /// Short name for reports and the command line (`mdl`, `jp-wallet-model`).
    pub name: String,
    pub doc_type: String,
    pub namespace: String,
    pub family_name: String,
    pub given_name: String,
    pub birth_date: String,
    pub resident_address: String,
    pub portrait: String,
    pub sex: String,
    /// `age_over_` + two digits (18013-5 §7.2.5).
    pub age_over_prefix: String,
}

impl MdocProfile {
    fn with_names(name: &str, doc_type: &str, namespace: &str) -> Self {
        Self {
            name: name.into(),
            doc_type: doc_type.into(),
            namespace: namespace.into(),
            family_name: "family_name".into(),
            given_name: "given_name".into(),
            birth_date: "birth_date".into(),
            resident_address: "resident_address".into(),
            portrait: "portrait".into(),
            sex: "sex".into(),
            age_over_prefix: "age_over_".into(),
        }
    }

    /// The mobile driving licence of ISO/IEC 18013-5 §7.2.1 (public).
    pub fn iso_mdl() -> Self {
        Self::with_names("mdl", "org.iso.18013.5.1.mDL", "org.iso.18013.5.1")
    }

    /// The My Number Card in a phone's wallet — MODEL: the ISO/IEC 23220-4 photo ID doctype
    /// and namespace with the 18013-5 element names, until the real ones are published.
    pub fn jp_my_number_wallet_model() -> Self {
        Self::with_names(
            "jp-wallet-model",
            "org.iso.23220.photoid.1",
            "org.iso.23220.1",
        )
    }

    /// The profiles honnin knows by name.
    pub fn by_name(name: &str) -> Option<Self> {
        match name {
            "mdl" => Some(Self::iso_mdl()),
            "jp-wallet-model" => Some(Self::jp_my_number_wallet_model()),
            _ => None,
        }
    }

    /// `age_over_NN`.
    pub fn age_over(&self, years: u8) -> String {
        format!("{}{years:02}", self.age_over_prefix)
    }
}

impl Default for MdocProfile {
    fn default() -> Self {
        Self::jp_my_number_wallet_model()
    }
}
