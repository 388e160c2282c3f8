//! The operator's audit log: every operator action (a sender added, an enrolment code issued, a
//! device revoked or replaced, trust anchors and CRLs loaded, a TLS key announced or switched,
//! a key rotated, the operator token replaced), every device's enrolment (from then on its key
//! signs records senders take as proof) and every sender's webhook change is appended
//! as an entry that names its number,
//! time, actor, action, subject and details, the previous entry's hash, and its own hash over
//! all of that. Editing, removing or reordering an entry breaks the chain at that entry, and
//! [`verify_chain`] names it.
//!
//! A chain cannot show that entries were cut off its end; the operator keeps the head hash of
//! an export elsewhere and checks it is still in the chain later (`audit verify --head`).
//! Details never hold a secret (a token or a code): only what was done, to what.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::storage::{Storage, StorageError};

/// The previous hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain tag of an entry's hash.
const DOMAIN: &[u8] = b"honnin/audit/v1\n";

/// An action to log.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub at: i64,
    /// Who acted: `cli:<user>` for `honnin-receiver` commands, `console` for the console,
    /// `serve` for a TLS key a serving instance took up, `sender:<id>` for a sender's webhook,
    /// `device:<id>` for a device's own enrolment.
    pub actor: String,
    /// `add_sender`, `enrol_code`, `enrol_device` (a device enrolled with its code: the key's
    /// SHA-256, the client address, the code's issue time, the senders, the app version; see
    /// [`crate::fleet::enrolment_entry`]), `revoke_device`, `reenrol_device`, `trust_load`,
    /// `announce_tls_key`, `clear_tls_key_announcements`, `rotate_tls_key`,
    /// `rotate_receipt_key`, `rotate_secrets_key`, `operator_token`, `set_webhook`,
    /// `delete_webhook`.
    pub action: String,
    /// What it was done to: a device or sender id, or a key's name.
    pub subject: String,
    /// A JSON object of the details.
    pub detail: serde_json::Value,
}

/// An entry as stored and exported (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// The details' JSON text, as hashed.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields an entry's hash covers, in this order.
#[derive(Serialize)]
struct Hashed<'a> {
    seq: i64,
    at: i64,
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    detail: &'a str,
    prev_hash: &'a str,
}

impl AuditEntry {
    /// The hash the entry should have, from its other fields.
    pub fn expected_hash(&self) -> String {
        let fields = Hashed {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            action: &self.action,
            subject: &self.subject,
            detail: &self.detail,
            prev_hash: &self.prev_hash,
        };
        // Integers and strings only: serialisation cannot fail.
        let body = serde_json::to_vec(&fields).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        hasher.update(&body);
        hex::encode(hasher.finalize())
    }
}

impl NewAuditEntry {
    /// The entry numbered `seq` after the entry whose hash is `prev_hash`.
    pub fn chained(&self, seq: i64, prev_hash: String) -> AuditEntry {
        let mut entry = AuditEntry {
            seq,
            at: self.at,
            actor: self.actor.clone(),
            action: self.action.clone(),
            subject: self.subject.clone(),
            detail: self.detail.to_string(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.expected_hash();
        entry
    }
}

/// Where a chain breaks: the first entry that is not what the chain says, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error(
        "audit entry {seq} (line {line}) breaks the chain: {why}; the log was changed at or before it"
    )]
    Broken {
        seq: i64,
        line: usize,
        why: &'static str,
    },
    #[error("the head {0} is not in the audit log: entries were removed from its end or replaced")]
    HeadMissing(String),
}

/// Checks that `entries` (in their stored or exported order) form one unbroken chain from the
/// first entry, and, with `head`, that the entry with that hash is still in it. Returns the
/// number of entries and the last hash.
pub fn verify_chain(
    entries: &[AuditEntry],
    head: Option<&str>,
) -> Result<(usize, String), ChainBreak> {
    let mut previous = GENESIS.to_owned();
    for (index, entry) in entries.iter().enumerate() {
        let broken = |why| ChainBreak::Broken {
            seq: entry.seq,
            line: index + 1,
            why,
        };
        if entry.seq != index as i64 + 1 {
            return Err(broken(
                "its number is out of sequence (an entry before it was removed or moved)",
            ));
        }
        if entry.prev_hash != previous {
            return Err(broken("it does not follow the entry before it"));
        }
        if entry.hash != entry.expected_hash() {
            return Err(broken("its content does not match its hash (edited)"));
        }
        previous = entry.hash.clone();
    }
    if let Some(head) = head
        && !entries.iter().any(|e| e.hash == head)
    {
        return Err(ChainBreak::HeadMissing(head.to_owned()));
    }
    Ok((entries.len(), previous))
}

/// Every entry of the log, in order.
pub fn all_entries(storage: &dyn Storage) -> Result<Vec<AuditEntry>, StorageError> {
    let mut entries: Vec<AuditEntry> = Vec::new();
    loop {
        let after = entries.last().map_or(0, |e| e.seq);
        let page = storage.audit_entries(after, 1000)?;
        if page.is_empty() {
            return Ok(entries);
        }
        entries.extend(page);
    }
}

/// The log as JSON lines, one entry a line.
pub fn export(entries: &[AuditEntry]) -> String {
    entries
        .iter()
        // Strings and integers: serialisation cannot fail.
        .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
        .collect()
}

/// Why an exported log cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line} of the audit export is not an audit entry: {detail}")]
pub struct ExportError {
    pub line: usize,
    pub detail: String,
}

/// The entries of an export written by [`export`].
pub fn parse_export(text: &str) -> Result<Vec<AuditEntry>, ExportError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| ExportError {
                line: i + 1,
                detail: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for seq in 1..=n {
            let prev = entries
                .last()
                .map_or(GENESIS.to_owned(), |e| e.hash.clone());
            let entry = NewAuditEntry {
                at: 1_800_000_000 + seq,
                actor: "cli:test".into(),
                action: "revoke_device".into(),
                subject: format!("handheld-{seq}"),
                detail: serde_json::json!({"reason": "lost"}),
            };
            entries.push(entry.chained(seq, prev));
        }
        entries
    }

    #[test]
    fn an_untouched_chain_verifies_and_names_its_head() {
        let entries = chain(4);
        let (count, head) = verify_chain(&entries, Some(&entries[1].hash)).expect("verifies");
        assert_eq!((count, head.as_str()), (4, entries[3].hash.as_str()));
        assert_eq!(verify_chain(&[], None).expect("empty").0, 0);
    }

    #[test]
    fn an_edit_a_removal_and_a_reordering_are_each_found_at_their_entry() {
        let mut edited = chain(4);
        edited[2].subject = "handheld-9".into();
        assert!(matches!(
            verify_chain(&edited, None),
            Err(ChainBreak::Broken { seq: 3, why, .. }) if why.contains("edited")
        ));
        let mut removed = chain(4);
        removed.remove(1);
        assert!(matches!(
            verify_chain(&removed, None),
            Err(ChainBreak::Broken {
                seq: 3,
                line: 2,
                ..
            })
        ));
        let mut reordered = chain(4);
        reordered.swap(1, 2);
        assert!(matches!(
            verify_chain(&reordered, None),
            Err(ChainBreak::Broken {
                seq: 3,
                line: 2,
                ..
            })
        ));
        // Renumbered after a removal: the link to the entry before still breaks.
        let mut renumbered = chain(4);
        renumbered.remove(1);
        for (i, entry) in renumbered.iter_mut().enumerate() {
            entry.seq = i as i64 + 1;
            entry.hash = entry.expected_hash();
        }
        assert!(matches!(
            verify_chain(&renumbered, None),
            Err(ChainBreak::Broken { seq: 2, .. })
        ));
    }

    #[test]
    fn a_cut_off_end_is_found_only_against_a_kept_head() {
        let entries = chain(4);
        let head = entries[3].hash.clone();
        let cut = &entries[..3];
        assert!(verify_chain(cut, None).is_ok());
        assert_eq!(
            verify_chain(cut, Some(&head)),
            Err(ChainBreak::HeadMissing(head))
        );
    }

    #[test]
    fn an_export_reads_back_and_garbage_is_named_by_line() {
        let entries = chain(2);
        assert_eq!(parse_export(&export(&entries)).expect("parses"), entries);
        let error = parse_export("{\"seq\":1}\n").expect_err("refused");
        assert_eq!(error.line, 1);
    }
}
