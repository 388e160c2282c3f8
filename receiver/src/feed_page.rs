//! A sender's feed page as JSON, written entry by entry straight from where the rows are, into
//! buffers kept from page to page.
//!
//! A page of 1,000 entries is about 6 MB. Built from owned rows into a fresh buffer, each page
//! copied every stored document once more than needed and faulted in megabytes of new memory;
//! here the storage hands each entry's columns as borrowed text ([`PageWriter::entry`]; SQLite
//! from its own row buffers) and the page goes into a buffer that served an earlier page
//! ([`PageBuffer`]). The bytes are the same whichever way the rows come: [`PageWriter::row`]
//! (rows already read, for PostgreSQL and webhooks) and [`PageWriter::entry`] write each entry
//! with the one serde type below.

use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::value::RawValue;

use crate::fleet::RevokedFlag;
use crate::storage::FeedRow;

/// One entry as served: the stored JSON passed through as it is, not parsed into a tree and
/// written again.
#[derive(serde::Serialize)]
struct Entry<'a> {
    cursor: i64,
    record: Option<&'a RawValue>,
    device_key: String,
    receipt: Option<&'a RawValue>,
    verification: Option<&'a RawValue>,
    /// Only on records of a revoked device made or received after its cut-off.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_revoked: Option<RevokedFlag>,
}

/// An entry's columns, borrowed from the storage's row.
pub struct EntryParts<'a> {
    pub cursor: i64,
    pub envelope: &'a str,
    pub device_key_spki: &'a [u8],
    pub receipt: &'a str,
    pub verification: &'a str,
    pub device_revoked: Option<RevokedFlag>,
}

/// Stored by this receiver, so valid JSON; should a row be damaged, it reads as null and the
/// rest of the page is served. Checked without building a value (the raw text is kept).
fn raw(text: &str) -> Option<&RawValue> {
    serde_json::from_str(text).ok()
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

    /// Appends one entry; entries come in cursor order.
    pub fn entry(&mut self, parts: EntryParts<'_>) {
        if self.entries > 0 {
            self.out.push(b',');
        }
        let entry = Entry {
            cursor: parts.cursor,
            record: raw(parts.envelope),
            device_key: BASE64.encode(parts.device_key_spki),
            receipt: raw(parts.receipt),
            verification: raw(parts.verification),
            device_revoked: parts.device_revoked,
        };
        // Strings, integers and valid raw JSON into a Vec: serialisation cannot fail.
        let _ = serde_json::to_writer(&mut *self.out, &entry);
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
