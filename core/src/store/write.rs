//! Appending records: sign, seal, insert and move the head, in one durable transaction.

use rusqlite::{Connection, params};

use super::crypt::Purpose;
use super::error::StoreError;
use super::{DeviceBinding, Store, meta};
use crate::record::{ChainLink, DeviceKey, DeviceSigner, RecordDraft, SignedRecord, hex_lower};

/// Sealed records are padded to a multiple of this many bytes, so a record's size says little
/// about the length of the names or addresses in it.
pub(crate) const PAD_TO: usize = 256;

/// What the store acknowledges for a record: it is on disk when the caller sees this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The record's position in the chain, from 1.
    pub seq: u64,
    pub record_id: String,
    pub hash: [u8; 32],
}

impl Store {
    /// Signs `draft` with `signer`, appends it to the chain and returns once it is durable.
    pub fn append(
        &mut self,
        draft: RecordDraft,
        signer: &dyn DeviceSigner,
    ) -> Result<Appended, StoreError> {
        let mut appended = self.append_all(vec![draft], signer)?;
        appended.pop().ok_or(StoreError::Sqlite {
            context: "appending a record",
            detail: "no record was appended".into(),
        })
    }

    /// Appends several records in one transaction (imports, benchmarks): all or none.
    pub fn append_all(
        &mut self,
        drafts: Vec<RecordDraft>,
        signer: &dyn DeviceSigner,
    ) -> Result<Vec<Appended>, StoreError> {
        let Some(first) = drafts.first() else {
            return Ok(Vec::new());
        };
        let given_der = signer.public_key_der()?;
        let err = |e| StoreError::sqlite("appending a record", e);
        let tx = Immediate::begin(&self.conn).map_err(err)?;
        let bound = match self.bound.take() {
            Some(bound) => Some(bound),
            None => meta::device(tx.conn, &self.sealer)?,
        };
        // The key the store is bound to, when the signer gives exactly its bytes, is the same
        // key: parsing it again would only cost time.
        let key = match &bound {
            Some(bound) if bound.key.spki_der() == given_der.as_slice() => bound.key.clone(),
            _ => DeviceKey::from_spki_der(&given_der)?,
        };
        let given = DeviceBinding {
            device_id: first.device_id().to_owned(),
            key,
        };
        match &bound {
            Some(bound) if *bound != given => return Err(foreign(bound, &given)),
            Some(_) => {}
            None => meta::put_device(tx.conn, &self.sealer, &given, self.random.as_mut())?,
        }
        let (mut head_seq, mut head_hash) =
            meta::head_after(tx.conn, &self.sealer, self.written_head.as_ref())?;
        let mut appended = Vec::with_capacity(drafts.len());
        for draft in drafts {
            if draft.device_id() != given.device_id {
                let other = DeviceBinding {
                    device_id: draft.device_id().to_owned(),
                    key: given.key.clone(),
                };
                return Err(foreign(&given, &other));
            }
            let mut id = [0u8; 16];
            self.random.fill(&mut id);
            let link = ChainLink {
                seq: head_seq + 1,
                prev_hash: head_hash,
            };
            let time = draft.time();
            let record = SignedRecord::sign(draft, &id, link, signer, &given.key)?;
            // Sized for the padding up front: the plaintext is never copied by a reallocation
            // (which would leave it unwiped in freed memory).
            let padded = record.envelope_len().div_ceil(PAD_TO) * PAD_TO;
            let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(padded));
            record.write_envelope(&mut plain);
            plain.resize(padded, b' ');
            let sealed = self
                .sealer
                .seal(Purpose::Record, &plain, self.random.as_mut());
            let seq = i64::try_from(link.seq).map_err(|_| StoreError::Sqlite {
                context: "appending a record",
                detail: "the chain is full".into(),
            })?;
            let record_id = hex_lower(&id);
            tx.conn
                .prepare_cached(
                    "INSERT INTO records (seq, record_id, recorded_at, sealed) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut insert| insert.execute(params![seq, record_id, time.0, sealed]))
                .map_err(err)?;
            head_seq = link.seq;
            head_hash = record.hash();
            appended.push(Appended {
                seq: link.seq,
                record_id,
                hash: head_hash,
            });
        }
        let written = meta::put_head(
            tx.conn,
            &self.sealer,
            (head_seq, head_hash),
            self.random.as_mut(),
        )?;
        tx.commit().map_err(err)?;
        // Kept only once committed: a binding or head written by a rolled-back transaction is
        // not one.
        self.bound = Some(given);
        self.written_head = Some(written);
        Ok(appended)
    }

    /// The device this store belongs to; `None` before its first record.
    pub fn device(&self) -> Result<Option<DeviceBinding>, StoreError> {
        meta::device(&self.conn, &self.sealer)
    }
}

/// `BEGIN IMMEDIATE` … `COMMIT` through cached statements (rusqlite's `Transaction` prepares
/// both again for every transaction: a few percent of an insert's CPU). Dropped without
/// [`Immediate::commit`], or after a failed one, it rolls back, as `Transaction` does.
struct Immediate<'c> {
    conn: &'c Connection,
}

impl<'c> Immediate<'c> {
    fn begin(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Self { conn })
    }

    fn commit(self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

impl Drop for Immediate<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            // Nothing else can be done about a failed rollback here; SQLite rolls the
            // transaction back when the connection closes.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn foreign(bound: &DeviceBinding, given: &DeviceBinding) -> StoreError {
    StoreError::ForeignDevice {
        store_device: bound.device_id.clone(),
        store_key: bound.key.id_hex(),
        given_device: given.device_id.clone(),
        given_key: given.key.id_hex(),
    }
}
