//! A sender's feed page as JSON, written entry by entry straight from where the rows are, into
//! buffers kept from page to page.
//!
//! A page of 1,000 entries is about 6 MB. Built from owned rows into a fresh buffer, each page
//! copied every stored document once more than needed and faulted in megabytes of new memory;
//! here the storage hands each entry's columns as borrowed text ([`PageWriter::entry`]; SQLite
//! from its own row buffers) and the page goes into a buffer that served an earlier page
//! ([`PageBuffer`]). The bytes are the same whichever way the rows come: [`PageWriter::row`]
//! (rows already read, for PostgreSQL and webhooks) and [`PageWriter::entry`] write each entry
//! with the one writer below.
//!
//! Each stored document is checked before it is passed through: against the CRC-32 written
//! with its row ([`checksum_at_insert`]), or, for a row without one, by parsing it as JSON (most
//! of a page's CPU when every document was parsed).

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::value::RawValue;

use crate::fleet::RevokedFlag;
use crate::storage::{DocumentChecksums, FeedRow};

/// An entry's columns, borrowed from the storage's row.
pub struct EntryParts<'a> {
    pub cursor: i64,
    pub envelope: &'a str,
    pub device_key_spki: &'a [u8],
    pub receipt: &'a str,
    pub verification: &'a str,
    pub device_revoked: Option<RevokedFlag>,
    pub checksums: DocumentChecksums,
}

/// The checksum kept with a stored document: CRC-32 of its bytes, when the document is JSON
/// with nothing around it (so that passing its text through unparsed writes what a parse
/// would have); `None` otherwise, and the feed then validates it as JSON on every read.
pub fn checksum_at_insert(document: &str) -> Option<i64> {
    let raw: &RawValue = serde_json::from_str(document).ok()?;
    (raw.get().len() == document.len()).then(|| i64::from(crc32fast::hash(document.as_bytes())))
}

/// A stored document as served: stored by this receiver, so valid JSON; should a row be
/// damaged, it reads as null and the rest of the page is served. With a checksum from the
/// insert, any changed byte (inside a string too) is caught at the cost of a CRC (a few GB/s)
/// instead of a JSON parse of every document on every page; rows without one are parsed.
fn document(text: &str, checksum: Option<i64>) -> Option<&str> {
    match checksum {
        Some(kept) => (i64::from(crc32fast::hash(text.as_bytes())) == kept).then_some(text),
        None => serde_json::from_str::<&RawValue>(text)
            .ok()
            .map(RawValue::get),
    }
}

fn push_document(out: &mut Vec<u8>, document: Option<&str>) {
    out.extend_from_slice(document.unwrap_or("null").as_bytes());
}

/// Writes `{"entries":[…],"next_after":N}` into a buffer, one entry at a time.
pub struct PageWriter<'a> {
    out: &'a mut Vec<u8>,
    next_after: i64,
    entries: usize,
}

impl<'a> PageWriter<'a> {
    /// A page after cursor `after` (its `next_after` when it has no entries), written at the end
    /// of `out`.
    pub fn new(out: &'a mut Vec<u8>, after: i64) -> Self {
        out.extend_from_slice(b"{\"entries\":[");
        Self {
            out,
            next_after: after,
            entries: 0,
        }
    }

    /// Appends one entry; entries come in cursor order. Written by hand (the stored JSON
    /// passed through as it is, not parsed into a tree and written again) in the shape and
    /// order serde gives the fields: `cursor`, `record`, `device_key`, `receipt`,
    /// `verification`, and `device_revoked` only when set.
    pub fn entry(&mut self, parts: EntryParts<'_>) {
        let out = &mut *self.out;
        out.extend_from_slice(if self.entries > 0 {
            b",{\"cursor\":"
        } else {
            b"{\"cursor\":"
        });
        out.extend_from_slice(parts.cursor.to_string().as_bytes());
        out.extend_from_slice(b",\"record\":");
        push_document(out, document(parts.envelope, parts.checksums.envelope));
        // Base64's alphabet needs no JSON escaping.
        out.extend_from_slice(b",\"device_key\":\"");
        out.extend_from_slice(BASE64.encode(parts.device_key_spki).as_bytes());
        out.extend_from_slice(b"\",\"receipt\":");
        push_document(out, document(parts.receipt, parts.checksums.receipt));
        out.extend_from_slice(b",\"verification\":");
        push_document(
            out,
            document(parts.verification, parts.checksums.verification),
        );
        if let Some(flag) = &parts.device_revoked {
            out.extend_from_slice(b",\"device_revoked\":");
            // Strings and integers into a Vec: serialisation cannot fail.
            let _ = serde_json::to_writer(&mut *out, flag);
        }
        out.push(b'}');
        self.next_after = parts.cursor;
        self.entries += 1;
    }

    /// Appends the entry of a row already read.
    pub fn row(&mut self, row: &FeedRow) {
        self.entry(EntryParts {
            cursor: row.cursor,
            envelope: &row.envelope,
            device_key_spki: &row.device_key_spki,
            receipt: &row.receipt,
            verification: &row.verification,
            device_revoked: crate::fleet::feed_flag(row),
            checksums: row.checksums,
        });
    }

    /// Entries written so far.
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Closes the page; the cursor it ends at (the last entry's, or `after`).
    pub fn finish(self) -> i64 {
        self.out.extend_from_slice(b"],\"next_after\":");
        self.out
            .extend_from_slice(self.next_after.to_string().as_bytes());
        self.out.push(b'}');
        self.next_after
    }
}

/// Page buffers given back after their page was sent, for the next pages.
static KEPT: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Buffers kept: one per page being sent at once on a busy receiver.
const KEPT_BUFFERS: usize = 4;
/// Larger buffers (pages of unusually large records) are freed rather than held.
const KEPT_CAPACITY: usize = 16 << 20;

/// A page's bytes in a buffer that goes back to be reused when the response is done with it.
/// Only the bytes written for this page are ever read: a reused buffer is cleared first.
pub struct PageBuffer(Vec<u8>);

impl PageBuffer {
    /// An empty buffer, one that held an earlier page when there is one.
    pub fn take() -> Self {
        let kept = KEPT.lock().ok().and_then(|mut kept| kept.pop());
        let mut buffer = kept.unwrap_or_default();
        buffer.clear();
        Self(buffer)
    }

    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl AsRef<[u8]> for PageBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for PageBuffer {
    fn drop(&mut self) {
        if self.0.capacity() > KEPT_CAPACITY {
            return;
        }
        if let Ok(mut kept) = KEPT.lock()
            && kept.len() < KEPT_BUFFERS
        {
            kept.push(std::mem::take(&mut self.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(parts: EntryParts<'_>) -> serde_json::Value {
        let mut out = Vec::new();
        let mut page = PageWriter::new(&mut out, 0);
        page.entry(parts);
        page.finish();
        serde_json::from_slice(&out).expect("the page is JSON")
    }

    fn parts<'a>(envelope: &'a str, checksums: DocumentChecksums) -> EntryParts<'a> {
        EntryParts {
            cursor: 7,
            envelope,
            device_key_spki: &[1, 2, 250],
            receipt: "{\"r\":1}",
            verification: "[true]",
            device_revoked: None,
            checksums,
        }
    }

    #[test]
    fn an_entry_has_the_fields_serde_gave_it_and_a_checked_document_passes_through() {
        let envelope = "{\"record_id\":\"r-1\",\"n\":[1,2]}";
        let checksums = DocumentChecksums {
            envelope: checksum_at_insert(envelope),
            receipt: checksum_at_insert("{\"r\":1}"),
            verification: None,
        };
        assert!(checksums.envelope.is_some() && checksums.receipt.is_some());
        let expected = serde_json::json!({
            "entries": [{
                "cursor": 7,
                "record": {"record_id": "r-1", "n": [1, 2]},
                "device_key": "AQL6",
                "receipt": {"r": 1},
                "verification": [true],
            }],
            "next_after": 7,
        });
        assert_eq!(page_of(parts(envelope, checksums)), expected);
    }

    #[test]
    fn a_byte_changed_inside_a_string_is_caught_by_the_checksum_not_by_json() {
        let stored = "{\"record_id\":\"r-1\"}";
        let damaged = "{\"record_id\":\"r-9\"}";
        let checksums = DocumentChecksums {
            envelope: checksum_at_insert(stored),
            ..DocumentChecksums::default()
        };
        // Still JSON: the parse alone would have served it.
        assert!(serde_json::from_str::<serde_json::Value>(damaged).is_ok());
        assert!(page_of(parts(damaged, checksums))["entries"][0]["record"].is_null());
        assert_eq!(
            page_of(parts(stored, checksums))["entries"][0]["record"]["record_id"],
            "r-1"
        );
    }

    #[test]
    fn a_document_that_is_not_bare_json_gets_no_checksum_and_is_parsed() {
        assert_eq!(checksum_at_insert("not json"), None);
        assert_eq!(checksum_at_insert("{\"a\":1,}"), None);
        // Surrounding space: a parse serves the value without it, so no pass-through.
        assert_eq!(checksum_at_insert(" {} "), None);
        let page = page_of(parts(" {\"a\":1} ", DocumentChecksums::default()));
        assert_eq!(page["entries"][0]["record"], serde_json::json!({"a": 1}));
        let page = page_of(parts("{\"a\":", DocumentChecksums::default()));
        assert!(page["entries"][0]["record"].is_null());
    }
}
