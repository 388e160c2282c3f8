//! Certificate path validation: from the card's end-entity certificate to a configured anchor.
//!
//! The path is built by key, never by name. Candidate issuers are the configured anchors and the
//! certificates the card supplied (untrusted input: they only help to find a path). A candidate
//! whose subject key identifier equals the certificate's authority key identifier, or whose
//! subject name equals its issuer name, is tried first; if none of those leads to an anchor, every
//! other candidate is tried too. Either way a link exists only when the issuer's key verifies the
//! certificate's signature, so a CA that copies the J-LIS names with another key links nothing.
//!
//! The rules then run on the path found (`rules.rs`), one [`CheckResult`] each, so that an expired
//! certificate is reported as expired and not as "no chain". Up to a few complete paths are
//! evaluated and the first that passes every rule wins; otherwise the one with fewest failures
//! is reported.
//!
//! Work is bounded on hostile input: at most [`MAX_CHAIN_LEN`] certificates in a path, at most
//! [`MAX_INTERMEDIATES`] supplied certificates considered, and at most [`MAX_SIGNATURE_CHECKS`]
//! RSA verifications per call.

use std::collections::HashMap;
use std::sync::Arc;

use rsa::PublicKey;

use super::TrustAnchor;
use super::anchors::TrustAnchors;
use super::cert::{LinkCheck, ParsedCertificate, verify_signature};
use super::report::{ChainPolicy, ChainReport, KeyPurpose};
use super::rules::{self, Path};
use crate::card::types::CertificateDer;
use crate::verify::check::{CheckId, CheckResult, Reason};
use crate::verify::time::UnixTime;

/// Most certificates in a path, end entity and anchor included. Real JPKI paths have two (the
/// J-LIS root issues end-entity certificates directly); the test PKI has three.
pub const MAX_CHAIN_LEN: usize = 5;
/// Most card-supplied certificates considered; further ones are ignored.
pub const MAX_INTERMEDIATES: usize = 8;
/// Most RSA signature verifications one validation may spend.
pub const MAX_SIGNATURE_CHECKS: usize = 64;
/// Most complete signature paths evaluated before the best one is reported.
const MAX_PATHS: usize = 4;

/// Validates `end_entity` for `purpose` at `at`, refusing SHA-1.
pub fn validate_chain(
    end_entity: &CertificateDer,
    intermediates: &[CertificateDer],
    anchors: &TrustAnchors,
    at: UnixTime,
    purpose: KeyPurpose,
) -> ChainReport {
    validate_chain_with(
        end_entity,
        intermediates,
        anchors,
        at,
        ChainPolicy::new(purpose),
    )
}

/// Validates `end_entity` under an explicit [`ChainPolicy`].
pub fn validate_chain_with(
    end_entity: &CertificateDer,
    intermediates: &[CertificateDer],
    anchors: &TrustAnchors,
    at: UnixTime,
    policy: ChainPolicy,
) -> ChainReport {
    let ee = match ParsedCertificate::parse(end_entity.as_bytes()) {
        Ok(ee) => ee,
        Err(e) => {
            return ChainReport::unverified(CheckResult::failed(
                CheckId::CertificateChain,
                Reason::CertificateMalformed,
                format!("end-entity certificate: {e}"),
            ));
        }
    };
    if anchors.jpki_roots().is_empty() {
        return ChainReport::unverified(CheckResult::failed(
            CheckId::CertificateChain,
            Reason::UnknownIssuer,
            "no JPKI root is configured as a trust anchor",
        ));
    }
    // Untrusted helpers: unparsable ones or ones with unusable keys are dropped, not fatal.
    let mut dropped = 0;
    // The same CA certificates arrive with every card of their CA: parsed once per process.
    let candidates: Vec<Arc<Intermediate>> = intermediates
        .iter()
        .take(MAX_INTERMEDIATES)
        .filter_map(|der| {
            let found = super::memo::intermediate(der.as_bytes());
            dropped += usize::from(found.is_none());
            found
        })
        .collect();

    let mut search = Search {
        ee: &ee,
        intermediates: &candidates,
        anchors,
        allow_sha1: policy.allow_sha1,
        checks_left: MAX_SIGNATURE_CHECKS,
        links: HashMap::new(),
        evidence: Evidence::default(),
        paths: Vec::new(),
    };
    search.extend(Node::EndEntity, &mut Vec::new(), false);

    if search.paths.is_empty() {
        let chain = search.evidence.into_result(dropped, intermediates.len());
        return ChainReport::unverified(chain);
    }

    let mut best: Option<ChainReport> = None;
    for found in &search.paths {
        let path = Path {
            ee: &ee,
            intermediates: found
                .intermediates
                .iter()
                .filter_map(|i| candidates.get(*i).map(|c| &**c))
                .collect(),
            anchor: found.anchor,
            sha1_used: found.sha1_used,
        };
        let report = rules::evaluate(&path, at, policy);
        if report.verified().is_some() {
            return report;
        }
        if best
            .as_ref()
            .is_none_or(|b| report.failures() < b.failures())
        {
            best = Some(report);
        }
    }
    // `paths` is not empty, so `best` is set; the fallback only keeps this free of `expect`.
    best.unwrap_or_else(|| {
        ChainReport::unverified(CheckResult::failed(
            CheckId::CertificateChain,
            Reason::ChainIncomplete,
            "no path could be evaluated",
        ))
    })
}

/// A card-supplied certificate that parsed and has a usable key.
pub(super) struct Intermediate {
    pub cert: ParsedCertificate,
    pub key: PublicKey,
    /// SHA-256 of its DER, which names it in [`super::memo`].
    pub digest: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Node {
    EndEntity,
    Intermediate(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Issuer {
    Intermediate(usize),
    Anchor(usize),
}

/// A complete path by signatures: intermediates by index (end entity's issuer first), anchor.
struct FoundPath<'a> {
    intermediates: Vec<usize>,
    anchor: &'a TrustAnchor,
    sha1_used: bool,
}

/// What went wrong while searching, for the report when no path exists.
#[derive(Default)]
struct Evidence {
    /// A named issuer's key did not verify the signature: which issuer, for the detail.
    bad_signature: Option<String>,
    unsupported_algorithm: Option<String>,
    linked_intermediate: bool,
    too_long: bool,
    out_of_budget: bool,
}

impl Evidence {
    fn into_result(self, dropped: usize, supplied: usize) -> CheckResult {
        let id = CheckId::CertificateChain;
        let mut note = String::new();
        if dropped > 0 {
            note = format!("; {dropped} card-supplied certificate(s) could not be used");
        }
        if supplied > MAX_INTERMEDIATES {
            note.push_str(&format!(
                "; only the first {MAX_INTERMEDIATES} card-supplied certificates were considered"
            ));
        }
        if let Some(algorithm) = self.unsupported_algorithm {
            return CheckResult::failed(
                id,
                Reason::UnsupportedAlgorithm,
                format!("a certificate is signed with {algorithm}, which is not accepted{note}"),
            );
        }
        if let Some(issuer) = self.bad_signature {
            return CheckResult::failed(
                id,
                Reason::SignatureInvalid,
                format!(
                    "a certificate names {issuer} as its issuer, but that key did not sign it{note}"
                ),
            );
        }
        if self.out_of_budget {
            return CheckResult::failed(
                id,
                Reason::ChainIncomplete,
                format!("gave up after {MAX_SIGNATURE_CHECKS} signature checks{note}"),
            );
        }
        if self.too_long {
            return CheckResult::failed(
                id,
                Reason::ChainIncomplete,
                format!("the path would be longer than {MAX_CHAIN_LEN} certificates{note}"),
            );
        }
        if self.linked_intermediate {
            return CheckResult::failed(
                id,
                Reason::ChainIncomplete,
                format!("the card's CA certificates do not lead to a trust anchor{note}"),
            );
        }
        CheckResult::failed(
            id,
            Reason::UnknownIssuer,
            format!("no trust anchor or card-supplied CA signed the certificate{note}"),
        )
    }
}

struct Search<'a> {
    ee: &'a ParsedCertificate,
    intermediates: &'a [Arc<Intermediate>],
    anchors: &'a TrustAnchors,
    allow_sha1: bool,
    checks_left: usize,
    links: HashMap<(Node, Issuer), LinkCheck>,
    evidence: Evidence,
    paths: Vec<FoundPath<'a>>,
}

impl<'a> Search<'a> {
    fn cert(&self, node: Node) -> &'a ParsedCertificate {
        match node {
            Node::EndEntity => self.ee,
            Node::Intermediate(i) => &self.intermediates[i].cert,
        }
    }

    /// Depth-first: anchors that issued `node`, then card CAs that issued it, named ones first.
    fn extend(&mut self, node: Node, stack: &mut Vec<usize>, sha1_used: bool) {
        let cert = self.cert(node);
        for named_pass in [true, false] {
            // The unnamed pass is the fallback: only when nothing was found by name or key id.
            if !named_pass && !self.paths.is_empty() {
                return;
            }
            // Only JPKI roots end a path: a CV issuer's key is not an X.509 trust anchor.
            for (index, anchor) in self.anchors.jpki_roots().iter().enumerate() {
                if names(cert, &anchor.parsed) != named_pass || self.done() {
                    continue;
                }
                let check = self.link(node, Issuer::Anchor(index), &anchor.key, named_pass);
                if let LinkCheck::Verified { sha1 } = check {
                    self.paths.push(FoundPath {
                        intermediates: stack.clone(),
                        anchor,
                        sha1_used: sha1_used || sha1,
                    });
                }
            }
            for (index, issuer) in self.intermediates.iter().enumerate() {
                if names(cert, &issuer.cert) != named_pass || self.done() {
                    continue;
                }
                if !self.usable_intermediate(index, node, stack) {
                    continue;
                }
                // End entity + stack + this CA + an anchor above it.
                if stack.len() + 3 > MAX_CHAIN_LEN {
                    self.evidence.too_long |= named_pass;
                    continue;
                }
                let check = self.link(node, Issuer::Intermediate(index), &issuer.key, named_pass);
                if let LinkCheck::Verified { sha1 } = check {
                    self.evidence.linked_intermediate = true;
                    stack.push(index);
                    self.extend(Node::Intermediate(index), stack, sha1_used || sha1);
                    stack.pop();
                }
            }
        }
    }

    /// Enough complete paths to choose from; the signature budget is enforced in `link`.
    fn done(&self) -> bool {
        self.paths.len() >= MAX_PATHS
    }

    /// A card CA can extend the path unless it is already on it, has the key of a certificate
    /// already on it (a loop by key), or has an anchor's key (the anchor itself is tried instead:
    /// real cards carry a copy of the J-LIS root).
    fn usable_intermediate(&self, index: usize, node: Node, stack: &[usize]) -> bool {
        let spki = &self.intermediates[index].cert.spki_der;
        let on_path = stack.contains(&index)
            || node == Node::Intermediate(index)
            || &self.ee.spki_der == spki
            || stack
                .iter()
                .any(|i| &self.intermediates[*i].cert.spki_der == spki);
        let is_anchor = self.anchors.with_spki(spki).next().is_some();
        !on_path && !is_anchor
    }

    fn link(&mut self, node: Node, issuer: Issuer, key: &PublicKey, named: bool) -> LinkCheck {
        if let Some(known) = self.links.get(&(node, issuer)) {
            return known.clone();
        }
        if self.checks_left == 0 {
            self.evidence.out_of_budget = true;
            return LinkCheck::BadSignature;
        }
        self.checks_left -= 1;
        let cert = self.cert(node);
        let verify = || {
            verify_signature(
                key,
                &cert.algorithm,
                self.allow_sha1,
                &cert.tbs,
                &cert.signature,
            )
        };
        let check = match node {
            // A CA certificate's signature is the same for every card of that CA: verified
            // once per process. The end entity's, which differs per card, always afresh.
            Node::Intermediate(i) => super::memo::verified(
                &super::memo::Signed {
                    kind: b"certificate",
                    key,
                    allow_sha1: self.allow_sha1,
                    object: &self.intermediates[i].digest,
                },
                verify,
            ),
            Node::EndEntity => verify(),
        };
        match &check {
            LinkCheck::Unsupported(algorithm) => {
                self.evidence.unsupported_algorithm = Some(algorithm.clone());
            }
            LinkCheck::BadSignature if named => {
                // An anchor's name is configuration; a card CA's name is hostile input and is not
                // echoed into a record.
                self.evidence.bad_signature = Some(match issuer {
                    Issuer::Anchor(i) => self
                        .anchors
                        .get(i)
                        .map(|a| format!("the trust anchor \"{}\"", a.subject()))
                        .unwrap_or_default(),
                    Issuer::Intermediate(i) => format!("card-supplied CA certificate {}", i + 1),
                });
            }
            _ => {}
        }
        self.links.insert((node, issuer), check.clone());
        check
    }
}

/// Whether `issuer` is the one `cert` names: by key identifier, or by distinguished name.
fn names(cert: &ParsedCertificate, issuer: &ParsedCertificate) -> bool {
    let by_key_id = cert.authority_key_id.is_some()
        && cert.authority_key_id.as_deref() == issuer.subject_key_id.as_deref();
    by_key_id || cert.issuer_der == issuer.subject_der
}
