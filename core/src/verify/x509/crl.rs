//! Revocation: an operator's X.509 v2 CRL (DER), checked against a validated chain.
//!
//! J-LIS gives revocation lists only to notified verifiers and platform operators, so on a
//! courier's handheld there is usually none: then the result is "not checked" with
//! [`Reason::NoRevocationList`], and the receiving side checks it. When a list is configured it
//! is trusted only if the key that issued the end-entity certificate signed it, its issuer name is
//! that CA's, and it is current at the check time: `thisUpdate ≤ at ≤ nextUpdate`. A list without
//! `nextUpdate`, or one that is stale, is [`Reason::RevocationListInvalid`] — an old list cannot
//! say that a certificate is *not* revoked. Delta CRLs, indirect CRLs, CRLs with an issuing
//! distribution point (a partial list) and any other critical extension are refused the same way.
//!
//! A list is chosen for a chain by issuer name *and* authorityKeyIdentifier
//! ([`select_revocation_list`]): both J-LIS root generations carry one name, so a choice by name
//! alone could take the other generation's list and report a valid list as invalid.

use std::fmt;

use der::Decode;
use der::asn1::ObjectIdentifier;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::AuthorityKeyIdentifier;

use super::cert::{
    LinkCheck, SignatureAlgorithm, raw_first_element, unix_seconds, verify_signature,
};
use super::date;
use super::report::{ChainReport, VerifiedChain};
use crate::verify::check::{CheckId, CheckResult, CheckState, Reason};
use crate::verify::time::UnixTime;

/// Lists larger than this are refused before parsing.
pub const MAX_CRL_LEN: usize = 32 * 1024 * 1024;

/// CRL extensions that are understood; a critical one not listed makes the list unusable.
const UNDERSTOOD_CRL_EXTENSIONS: [ObjectIdentifier; 2] = [
    ObjectIdentifier::new_unwrap("2.5.29.20"), // cRLNumber
    ObjectIdentifier::new_unwrap("2.5.29.35"), // authorityKeyIdentifier
];
const AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
/// Entry extensions that are understood: reasonCode, invalidityDate.
const UNDERSTOOD_ENTRY_EXTENSIONS: [ObjectIdentifier; 2] = [
    ObjectIdentifier::new_unwrap("2.5.29.21"),
    ObjectIdentifier::new_unwrap("2.5.29.24"),
];

/// Why a revocation list could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    #[error("the revocation list is {len} bytes, more than the {MAX_CRL_LEN} accepted")]
    TooLarge { len: usize },
    #[error("the revocation list is not valid DER X.509 CRL: {0}")]
    Der(String),
    #[error("the revocation list's two signature algorithm fields differ")]
    AlgorithmMismatch,
    #[error("the revocation list's signature has unused bits")]
    SignatureBits,
}

/// A parsed CRL, not yet trusted: [`check_revocation`] verifies it against the chain's issuer.
#[derive(Clone)]
pub struct RevocationList {
    list: CertificateList,
    tbs: Vec<u8>,
    signature: Vec<u8>,
    algorithm: SignatureAlgorithm,
    issuer_der: Vec<u8>,
    /// The keyIdentifier of the list's authorityKeyIdentifier, if it has one.
    authority_key_id: Option<Vec<u8>>,
    this_update: i64,
    next_update: Option<i64>,
    /// The first critical extension (of the list or an entry) honnin does not process.
    unknown_critical: Option<String>,
    /// How the list reached this verifier, when not from the operator's own files.
    source: Option<ListSource>,
    /// The issuer's name as text, made once: every revocation check describes the list, and
    /// formatting a name per record cost a receiver a noticeable share of its verification.
    issuer_text: String,
    /// SHA-256 of the whole list as given: names it in [`super::memo`], so that its signature
    /// is verified once per issuing key, not once per record.
    digest: [u8; 32],
}

/// Where a revocation list came from when something else than the list bounds how long it
/// may be used: a trust bundle the receiver signed ([`crate::trust_bundle`]) is valid until its
/// own expiry, and the revocation check names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSource {
    /// Said in the check's detail, e.g. "trust bundle 7 issued 2026-12-07".
    pub name: String,
    /// After this (Unix seconds) the list is not used: the check fails and says why.
    pub expires_at: i64,
}

impl fmt::Debug for RevocationList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationList")
            .field("issuer", &self.list.tbs_cert_list.issuer.to_string())
            .field("entries", &self.len())
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .finish()
    }
}

impl RevocationList {
    pub fn from_der(bytes: &[u8]) -> Result<Self, CrlError> {
        if bytes.len() > MAX_CRL_LEN {
            return Err(CrlError::TooLarge { len: bytes.len() });
        }
        let list = CertificateList::from_der(bytes).map_err(|e| CrlError::Der(e.to_string()))?;
        let tbs = raw_first_element(bytes).map_err(|e| CrlError::Der(e.to_string()))?;
        if list.signature_algorithm != list.tbs_cert_list.signature {
            return Err(CrlError::AlgorithmMismatch);
        }
        let signature = list
            .signature
            .as_bytes()
            .ok_or(CrlError::SignatureBits)?
            .to_vec();
        let issuer_der = der::Encode::to_der(&list.tbs_cert_list.issuer)
            .map_err(|e| CrlError::Der(e.to_string()))?;
        let tbs_list = &list.tbs_cert_list;
        let authority_key_id = match tbs_list
            .crl_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == AUTHORITY_KEY_ID)
        {
            Some(extension) => AuthorityKeyIdentifier::from_der(extension.extn_value.as_bytes())
                .map_err(|e| CrlError::Der(format!("authorityKeyIdentifier: {e}")))?
                .key_identifier
                .map(|id| id.as_bytes().to_vec()),
            None => None,
        };
        let mut unknown_critical = tbs_list
            .crl_extensions
            .iter()
            .flatten()
            .find(|e| e.critical && !UNDERSTOOD_CRL_EXTENSIONS.contains(&e.extn_id))
            .map(|e| e.extn_id.to_string());
        if unknown_critical.is_none() {
            unknown_critical = tbs_list
                .revoked_certificates
                .iter()
                .flatten()
                .flat_map(|entry| entry.crl_entry_extensions.iter().flatten())
                .find(|e| e.critical && !UNDERSTOOD_ENTRY_EXTENSIONS.contains(&e.extn_id))
                .map(|e| e.extn_id.to_string());
        }
        Ok(Self {
            algorithm: SignatureAlgorithm::of(&list.signature_algorithm),
            this_update: unix_seconds(tbs_list.this_update),
            next_update: tbs_list.next_update.map(unix_seconds),
            tbs: tbs.to_vec(),
            signature,
            issuer_der,
            authority_key_id,
            unknown_critical,
            source: None,
            issuer_text: list.tbs_cert_list.issuer.to_string(),
            digest: super::memo::digest(bytes),
            list,
        })
    }

    /// The same list, marked as delivered by `source` (see [`ListSource`]).
    pub fn delivered_by(mut self, source: ListSource) -> Self {
        self.source = Some(source);
        self
    }

    /// What the check's detail says of the list used at `at`: its issuer's name, when
    /// it was issued and how old it is, its next update, and where it came from.
    pub fn describe(&self, at: UnixTime) -> String {
        // The whole name: the two JPKI CAs differ only in one OU, the generations in none (the
        // issue date then tells them apart).
        let name = &self.issuer_text;
        let age_hours = at.0.saturating_sub(self.this_update).max(0) / 3600;
        let next = self.next_update.map_or_else(
            || "no next update".to_owned(),
            |n| format!("next update {}", date(n)),
        );
        let from = self
            .source
            .as_ref()
            .map_or_else(String::new, |s| format!(", from {}", s.name));
        format!(
            "list of {name} issued {} ({age_hours} h old), {next}{from}",
            date(self.this_update)
        )
    }

    /// The issuer's name as text (the CA whose list it is).
    pub fn issuer_name(&self) -> &str {
        &self.issuer_text
    }

    /// Number of revoked certificates listed.
    pub fn len(&self) -> usize {
        self.list
            .tbs_cert_list
            .revoked_certificates
            .as_ref()
            .map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn this_update(&self) -> UnixTime {
        UnixTime(self.this_update)
    }

    pub fn next_update(&self) -> Option<UnixTime> {
        self.next_update.map(UnixTime)
    }

    /// Whether this list names the CA that issued the chain's end entity (a hint for choosing a
    /// list; trust still comes only from the signature in [`check_revocation`]).
    pub fn names_issuer_of(&self, chain: &VerifiedChain) -> bool {
        self.issuer_der == chain.issuer_subject_der
    }

    /// Whether this list's authorityKeyIdentifier names the key that issued the chain's end
    /// entity; `None` when the list carries none.
    pub fn identifies_issuer_key_of(&self, chain: &VerifiedChain) -> Option<bool> {
        let id = self.authority_key_id.as_ref()?;
        Some(chain.issuer_key_ids.contains(id))
    }

    fn revocation_date(&self, serial: &[u8]) -> Option<i64> {
        self.list
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .find(|entry| entry.serial_number.as_bytes() == serial)
            .map(|entry| unix_seconds(entry.revocation_date))
    }
}

/// Picks, among configured lists, the one of the CA that issued the end entity: by issuer name
/// and authority key identifier, because the J-LIS root generations share one name and each
/// has its own list. A list whose key identifier names another key is never chosen; a list with
/// no key identifier is chosen only if no list identifies the key, and then the first one the
/// issuer's key signed (so that the other generation's list does not hide the right one).
pub fn select_revocation_list<'a>(
    chain: &VerifiedChain,
    lists: &'a [RevocationList],
) -> Option<&'a RevocationList> {
    let named = || lists.iter().filter(|list| list.names_issuer_of(chain));
    if let Some(list) = named().find(|list| list.identifies_issuer_key_of(chain) == Some(true)) {
        return Some(list);
    }
    let unidentified = || named().filter(|list| list.identifies_issuer_key_of(chain).is_none());
    unidentified()
        .find(|list| signed_by_issuer(chain, list))
        .or_else(|| unidentified().next())
}

fn signed_by_issuer(chain: &VerifiedChain, list: &RevocationList) -> bool {
    matches!(list_signature(chain, list), LinkCheck::Verified { .. })
}

/// The list's signature checked with the key that issued the chain's end entity: verified once
/// per process for a list and key ([`super::memo`]), since every record of that CA's cards
/// checks the same list against the same key.
fn list_signature(chain: &VerifiedChain, list: &RevocationList) -> LinkCheck {
    super::memo::verified(
        &super::memo::Signed {
            kind: b"revocation list",
            key: &chain.issuer_key,
            allow_sha1: chain.policy.allow_sha1,
            object: &list.digest,
        },
        || {
            verify_signature(
                &chain.issuer_key,
                &list.algorithm,
                chain.policy.allow_sha1,
                &list.tbs,
                &list.signature,
            )
        },
    )
}

/// The Revocation check for a chain report: "skipped" if the chain did not validate, "not
/// checked" without a list, otherwise the list is verified and consulted.
pub fn check_revocation(
    report: &ChainReport,
    list: Option<&RevocationList>,
    at: UnixTime,
) -> CheckResult {
    match report.verified() {
        None => CheckResult::not_checked(CheckId::Revocation, Reason::Skipped),
        Some(chain) => check_revocation_of(chain, list, at),
    }
}

/// The Revocation check for a validated chain.
pub fn check_revocation_of(
    chain: &VerifiedChain,
    list: Option<&RevocationList>,
    at: UnixTime,
) -> CheckResult {
    let id = CheckId::Revocation;
    let Some(list) = list else {
        return CheckResult::not_checked(id, Reason::NoRevocationList);
    };
    if let Some(refused) = untrusted(chain, list, at) {
        return refused;
    }
    judge_dated(chain, list, at)
}

/// The Revocation check with a list already found trustworthy ([`untrusted`]): current at
/// `at`, and what it says of the certificate.
fn judge_dated(chain: &VerifiedChain, list: &RevocationList, at: UnixTime) -> CheckResult {
    let id = CheckId::Revocation;
    let invalid = |detail: String| CheckResult::failed(id, Reason::RevocationListInvalid, detail);
    if at.0 < list.this_update {
        return invalid(format!(
            "the list was issued on {}, after the check time",
            date(list.this_update)
        ));
    }
    match list.next_update {
        None => return invalid("the list has no nextUpdate, so its freshness is unknown".into()),
        Some(next) if at.0 > next => {
            return invalid(format!(
                "the list is stale: its next update was due on {} ({})",
                date(next),
                list.describe(at)
            ));
        }
        Some(_) => {}
    }
    match list.revocation_date(chain.end_entity.serial()) {
        // The serial number identifies a person's certificate: the detail gives only the date.
        Some(revoked) => CheckResult::failed(
            id,
            Reason::Revoked,
            format!("revoked on {} ({})", date(revoked), list.describe(at)),
        ),
        None => CheckResult::passed(id, Reason::NotRevoked).with_detail(list.describe(at)),
    }
}

/// Why `list` cannot be trusted for `chain` at `at` whatever its dates: not signed by the
/// issuer's key, another issuer's name, a critical extension honnin does not process, or the
/// trust bundle that delivered it expired.
fn untrusted(chain: &VerifiedChain, list: &RevocationList, at: UnixTime) -> Option<CheckResult> {
    let invalid = |detail: String| {
        Some(CheckResult::failed(
            CheckId::Revocation,
            Reason::RevocationListInvalid,
            detail,
        ))
    };
    match list_signature(chain, list) {
        LinkCheck::Verified { .. } => {}
        LinkCheck::BadSignature => {
            return invalid("the list is not signed by the key that issued the certificate".into());
        }
        LinkCheck::Unsupported(algorithm) => {
            return invalid(format!(
                "the list is signed with {algorithm}, which is not accepted"
            ));
        }
    }
    if list.issuer_der != chain.issuer_subject_der {
        return invalid("the list's issuer name is not the certificate's issuer".into());
    }
    if let Some(oid) = &list.unknown_critical {
        return invalid(format!(
            "the list carries the critical extension {oid}, which honnin does not process"
        ));
    }
    if let Some(source) = &list.source
        && at.0 > source.expires_at
    {
        return invalid(format!(
            "{}: the {} it came from expired on {}; sync to get a current one",
            list.describe(at),
            source.name,
            date(source.expires_at)
        ));
    }
    None
}

/// The Revocation check of a record re-verified after the fact (the receiver), with every list
/// the verifier holds for the chain's issuer. A revocation is final, so any trusted list that
/// revokes the certificate on or before the check time `at` fails it, whatever the list's own
/// dates (an older list current at `at` that does not list it yet, or a fresh one, cannot
/// outvote it). Otherwise the newest list that passes it decides: one current at `at`, or one
/// issued after `at` (it names every certificate revoked up to its thisUpdate). When no list
/// can be used, the newest list's reason is reported. The detail names the list that decided.
pub fn check_revocation_among(
    chain: &VerifiedChain,
    lists: &[RevocationList],
    at: UnixTime,
) -> CheckResult {
    let mut candidates: Vec<&RevocationList> = lists
        .iter()
        .filter(|list| {
            list.names_issuer_of(chain) && list.identifies_issuer_key_of(chain) != Some(false)
        })
        .collect();
    // Newest first: among lists that agree, the freshest one is named.
    candidates.sort_by_key(|list| std::cmp::Reverse(list.this_update));
    let mut results: Vec<CheckResult> = candidates
        .iter()
        .map(|list| judge_after_the_fact(chain, list, at))
        .collect();
    let revoked = results.iter().position(|r| r.reason == Reason::Revoked);
    let passed = || results.iter().position(|r| r.state == CheckState::Passed);
    match revoked
        .or_else(passed)
        .or((!results.is_empty()).then_some(0))
    {
        Some(decided) => results.swap_remove(decided),
        None => CheckResult::not_checked(CheckId::Revocation, Reason::NoRevocationList),
    }
}

/// One list's word on the chain at `at`, for [`check_revocation_among`].
fn judge_after_the_fact(chain: &VerifiedChain, list: &RevocationList, at: UnixTime) -> CheckResult {
    let id = CheckId::Revocation;
    if let Some(refused) = untrusted(chain, list, at) {
        return refused;
    }
    let later = at.0 < list.this_update;
    // Described only when it decides here (every record describes its list once).
    let described = || {
        let text = list.describe(at);
        if later {
            format!("{text}, issued after the check")
        } else {
            text
        }
    };
    match list.revocation_date(chain.end_entity.serial()) {
        Some(revoked) if revoked <= at.0 => CheckResult::failed(
            id,
            Reason::Revoked,
            format!("revoked on {} ({})", date(revoked), described()),
        ),
        Some(revoked) if later => CheckResult::passed(id, Reason::NotRevoked).with_detail(format!(
            "not revoked at the check time; revoked later, on {} ({})",
            date(revoked),
            described()
        )),
        None if later => CheckResult::passed(id, Reason::NotRevoked).with_detail(described()),
        // Current at `at`, stale or without nextUpdate: judged as on the device (its
        // signature is checked above already: the memo is not asked twice per record).
        _ => judge_dated(chain, list, at),
    }
}
