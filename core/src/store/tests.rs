//! Store unit tests on real SQLite files in temporary directories. The raw-bytes, tamper and
//! crash tests through whole door checks are in tests/ (honnin-e2e).

use std::path::PathBuf;

use super::*;
use crate::card::{CalendarDate, Sex};
use crate::check::{CheckRequest, DoorCheckReport, Evidence, Level, VerifiedAttributes};
use crate::record::{AttributePolicy, Problem, RecordContext, RecordDraft, SoftwareSigner};
use crate::verify::challenge::ChallengeInputs;
use crate::verify::{CheckId, CheckResult, Reason, UnixTime};

struct Counter(u64);
impl RandomSource for Counter {
    fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (self.0 >> 56) as u8;
        }
    }
}

const DAY: i64 = 86_400;
const T0: i64 = 1_795_564_800;

fn draft(item: &str, time: i64, device: &str) -> RecordDraft {
    let request = CheckRequest {
        item_id: item.into(),
        sender_id: "test-bank".into(),
        device_id: device.into(),
        addressee: None,
    };
    let evidence = Evidence {
        challenge: Some(ChallengeInputs::fresh(
            item,
            "test-bank",
            device,
            UnixTime(time),
            &mut Counter(time as u64),
        )),
        card_signature: Some(vec![0x5A; 256]),
        certificates: vec![vec![0x30; 1200]],
        attributes: Some(VerifiedAttributes {
            name: "試験 太郎".into(),
            address: "東京都千代田区".into(),
            birth_date: CalendarDate::new(1990, 4, 1).expect("date"),
            sex: Sex::Male,
            source: "input_support",
        }),
        ..Evidence::default()
    };
    let report = DoorCheckReport::build(
        Level::B,
        vec![CheckResult::passed(
            CheckId::CertificateChain,
            Reason::Verified,
        )],
        evidence,
    );
    let context = RecordContext {
        courier_id: "courier-7".into(),
        time: UnixTime(time),
        policy: AttributePolicy::ALL,
    };
    RecordDraft::from_check(&report, &request, &context).expect("draft")
}

fn keys() -> StaticKeyProvider {
    StaticKeyProvider::new([0x11; 32])
}

fn signer() -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&[0x22; 32]).expect("valid scalar")
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("records.db");
    Fixture { _dir: dir, path }
}

fn filled(n: u64) -> (Fixture, Store) {
    let fixture = fixture();
    let mut store =
        Store::create_with(&fixture.path, &keys(), Box::new(Counter(1))).expect("creates");
    for i in 0..n {
        let time = T0 + i as i64 * 3600;
        store
            .append(
                draft(&format!("JP-ITEM-{i:04}"), time, "handheld-01"),
                &signer(),
            )
            .expect("appends");
    }
    (fixture, store)
}

#[test]
fn appended_records_read_back_in_order_and_the_chain_verifies() {
    let (_fixture, store) = filled(5);
    let rows = store.list(0, 100).expect("lists");
    assert_eq!(rows.len(), 5);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.position, i as u64 + 1);
        let record = row.record.as_ref().expect("reads");
        assert_eq!(record.body().item_id(), format!("JP-ITEM-{i:04}"));
        assert_eq!(record.body().record_id(), row.record_id);
    }
    let report = store.verify_chain().expect("verifies");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.verified, 5);
    let by_id = store.get(&rows[2].record_id).expect("by id");
    assert_eq!(by_id.position, 3);
    assert_eq!(store.get("#4").expect("by position").position, 4);
    assert!(matches!(
        store.get("#99"),
        Err(StoreError::NoSuchRecord { .. })
    ));
}

#[test]
fn reopening_needs_the_same_key() {
    let (fixture, store) = filled(2);
    drop(store);
    let store = Store::open(&fixture.path, &keys()).expect("reopens");
    assert_eq!(store.info().expect("info").records, 2);
    drop(store);
    assert!(matches!(
        Store::open(&fixture.path, &StaticKeyProvider::new([0x12; 32])),
        Err(StoreError::WrongKey)
    ));
}

#[test]
fn a_store_belongs_to_one_device_and_key() {
    let (_fixture, mut store) = filled(1);
    let other_key = SoftwareSigner::from_secret_bytes(&[0x23; 32]).expect("valid scalar");
    let result = store.append(draft("JP-X", T0, "handheld-01"), &other_key);
    assert!(
        matches!(result, Err(StoreError::ForeignDevice { .. })),
        "{result:?}"
    );
    let result = store.append(draft("JP-X", T0, "handheld-02"), &signer());
    assert!(
        matches!(result, Err(StoreError::ForeignDevice { .. })),
        "{result:?}"
    );
    assert_eq!(store.info().expect("info").records, 1);
}

#[test]
fn missing_empty_and_foreign_files_are_refused_not_recreated() {
    let fixture = fixture();
    assert!(matches!(
        Store::open(&fixture.path, &keys()),
        Err(StoreError::NotFound { .. })
    ));
    std::fs::write(&fixture.path, b"").expect("writes");
    assert!(matches!(
        Store::open_or_create(&fixture.path, &keys()),
        Err(StoreError::NotAStore { .. })
    ));
    std::fs::write(&fixture.path, b"hello, this is not a database at all").expect("writes");
    assert!(matches!(
        Store::open(&fixture.path, &keys()),
        Err(StoreError::NotAStore { .. })
    ));
    assert!(matches!(
        Store::create(&fixture.path, &keys()),
        Err(StoreError::AlreadyExists { .. })
    ));
    // Still the foreign bytes: nothing overwrote them.
    assert_eq!(
        std::fs::read(&fixture.path).expect("reads"),
        b"hello, this is not a database at all"
    );
}

#[test]
fn an_older_schema_is_migrated_and_a_newer_one_refused() {
    let fixture = fixture();
    {
        let mut conn = rusqlite::Connection::open(&fixture.path).expect("opens");
        schema::migrate_to(&mut conn, 1).expect("version 1");
    }
    // A version-1 file without the store's values is not a store, but migrating it works.
    {
        let mut conn = rusqlite::Connection::open(&fixture.path).expect("opens");
        schema::migrate(&mut conn).expect("migrates");
        assert_eq!(schema::version(&conn).expect("version"), schema::LATEST);
        conn.pragma_update(None, "user_version", schema::LATEST + 1)
            .expect("bumps");
    }
    let (store_fixture, store) = filled(1);
    drop(store);
    {
        let conn = rusqlite::Connection::open(&store_fixture.path).expect("opens");
        conn.pragma_update(None, "user_version", schema::LATEST + 1)
            .expect("bumps");
    }
    assert!(matches!(
        Store::open(&store_fixture.path, &keys()),
        Err(StoreError::NewerSchema { .. })
    ));
}

#[test]
fn records_deleted_from_the_end_are_noticed_on_open() {
    let (fixture, store) = filled(4);
    drop(store);
    {
        let conn = rusqlite::Connection::open(&fixture.path).expect("opens");
        conn.execute("DELETE FROM records WHERE seq >= 3", [])
            .expect("deletes");
    }
    let error = Store::open(&fixture.path, &keys()).expect_err("refused");
    assert!(
        matches!(error, StoreError::RecordsMissing { from: 3, to: 4 }),
        "{error:?}"
    );
    let store = Store::open_for_audit(&fixture.path, &keys()).expect("opens for audit");
    let report = store.verify_chain().expect("verifies");
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert_eq!(report.problems[0].position, 3);
    assert_eq!(
        report.problems[0].problem,
        Problem::Missing { from: 3, to: 4 }
    );
}

#[test]
fn sync_state_and_purge_keep_the_chain_verifiable() {
    let (_fixture, mut store) = filled(6);
    let rows = store.list(0, 10).expect("lists");
    // Records 1, 2, 3 and 5 synced on day 0; 4 not.
    for i in [0, 1, 2, 4] {
        store
            .mark_synced(&rows[i].record_id, UnixTime(T0))
            .expect("marks");
    }
    assert_eq!(store.pending_sync(10).expect("pending").len(), 2);
    let retention = Retention {
        keep_synced_days: 7,
    };
    // Too early: nothing is old enough.
    let report = store
        .purge_synced(retention, UnixTime(T0 + 6 * DAY))
        .expect("purges");
    assert_eq!(report.purged, 0);
    // Later: the prefix 1–3 goes; 5 stays because 4 is not synced.
    let report = store
        .purge_synced(retention, UnixTime(T0 + 8 * DAY))
        .expect("purges");
    assert_eq!(
        report,
        PurgeReport {
            purged: 3,
            start: 4
        }
    );
    let remaining: Vec<u64> = store
        .list(0, 10)
        .expect("lists")
        .iter()
        .map(|r| r.position)
        .collect();
    assert_eq!(remaining, [4, 5, 6]);
    let chain = store.verify_chain().expect("verifies");
    assert!(chain.is_intact(), "{chain:?}");
    // A purged record put back is caught.
    store
        .append(draft("JP-NEW", T0 + 9 * DAY, "handheld-01"), &signer())
        .expect("appends after a purge");
    assert!(store.verify_chain().expect("verifies").is_intact());
}

#[test]
fn a_days_export_sealed_and_clear() {
    let (fixture, mut store) = filled(30);
    // Records are an hour apart from T0: the first day holds 24.
    let export = store
        .export(UnixTime(T0), UnixTime(T0 + DAY))
        .expect("exports");
    assert_eq!(export.records.len(), 24);
    let key = store.device().expect("device").expect("bound").key;
    for record in &export.records {
        record.verify(&key).expect("each record verifies");
    }
    let clear = export.to_clear_json();
    assert!(String::from_utf8_lossy(&clear).contains("JP-ITEM-0000"));
    let sealed = store.seal_export(&export);
    let text = String::from_utf8_lossy(&sealed);
    assert!(!text.contains("JP-ITEM") && !text.contains("試験"));
    let opened = open_sealed_export(&sealed, &keys()).expect("opens");
    assert_eq!(opened.records, export.records);
    assert!(matches!(
        open_sealed_export(&sealed, &StaticKeyProvider::new([0x13; 32])),
        Err(StoreError::WrongKey)
    ));
    drop(store);
    // An unreadable record in the period stops the export instead of being left out.
    {
        let conn = rusqlite::Connection::open(&fixture.path).expect("opens");
        conn.execute(
            "UPDATE records SET sealed = zeroblob(300) WHERE seq = 5",
            [],
        )
        .expect("damages");
    }
    let store = Store::open(&fixture.path, &keys()).expect("opens");
    assert!(matches!(
        store.export(UnixTime(T0), UnixTime(T0 + DAY)),
        Err(StoreError::Unreadable { position: 5, .. })
    ));
}

#[test]
fn sealed_records_hide_their_length_to_the_padding() {
    let (fixture, store) = filled(3);
    drop(store);
    let conn = rusqlite::Connection::open(&fixture.path).expect("opens");
    let lengths: Vec<i64> = conn
        .prepare("SELECT length(sealed) FROM records")
        .expect("prepares")
        .query_map([], |row| row.get(0))
        .expect("queries")
        .collect::<Result<_, _>>()
        .expect("reads");
    for length in lengths {
        let plain = length as usize - crypt::NONCE_LEN - crypt::TAG_LEN;
        assert_eq!(plain % write::PAD_TO, 0);
    }
}

#[test]
fn the_manifest_is_kept_sealed_and_verified_again_when_read() {
    use crate::manifest::{MANIFEST_FORMAT, ManifestBody, ManifestItem, SignedManifest};
    let receiver = SoftwareSigner::from_secret_bytes(&[0x33; 32]).expect("valid scalar");
    let body = ManifestBody {
        format: MANIFEST_FORMAT.into(),
        device_id: "handheld-01".into(),
        issued_at: T0,
        expires_at: T0 + DAY,
        items: vec![ManifestItem {
            item_id: "JP-ITEM-0001".into(),
            sender_id: "test-bank".into(),
            addressee_name: "試験 花子".into(),
            addressee_address: None,
            min_level: "B".into(),
            attributes: vec!["name".into()],
        }],
    };
    let manifest = SignedManifest::sign(body, &receiver, receiver.device_key()).expect("signs");
    let fixture = fixture();
    let mut store =
        Store::create_with(&fixture.path, &keys(), Box::new(Counter(1))).expect("creates");
    let key = receiver.device_key();
    assert!(
        store
            .manifest(key, "handheld-01", UnixTime(T0))
            .expect("reads")
            .is_none()
    );

    // A manifest for another device is refused and nothing is stored.
    assert!(matches!(
        store.save_manifest(&manifest, key, "handheld-02", UnixTime(T0)),
        Err(StoreError::Manifest(_))
    ));
    assert!(
        store
            .manifest(key, "handheld-01", UnixTime(T0))
            .expect("reads")
            .is_none()
    );

    store
        .save_manifest(&manifest, key, "handheld-01", UnixTime(T0))
        .expect("saves");
    drop(store);
    let store = Store::open(&fixture.path, &keys()).expect("opens");
    let verified = store
        .manifest(key, "handheld-01", UnixTime(T0 + 60))
        .expect("reads")
        .expect("kept");
    assert_eq!(
        verified.item("JP-ITEM-0001").map(|i| i.min_level),
        Some(Level::B)
    );
    // The addressee's name is not readable in the file.
    let bytes = std::fs::read(&fixture.path).expect("file");
    let wal = std::fs::read(fixture.path.with_extension("db-wal")).unwrap_or_default();
    let name = "試験 花子".as_bytes();
    assert!(!bytes.windows(name.len()).any(|w| w == name));
    assert!(!wal.windows(name.len()).any(|w| w == name));
    // Once expired it is not used.
    assert!(matches!(
        store.manifest(key, "handheld-01", UnixTime(T0 + DAY)),
        Err(StoreError::Manifest(
            crate::manifest::ManifestError::Expired { .. }
        ))
    ));
}

#[test]
fn a_batch_of_receipts_is_marked_in_one_transaction_all_or_none() {
    let (_fixture, mut store) = filled(3);
    let ids: Vec<String> = store
        .list(0, 10)
        .expect("lists")
        .into_iter()
        .map(|row| row.record_id)
        .collect();
    // One unknown id: nothing is marked.
    let mut with_unknown = ids[..2].to_vec();
    with_unknown.push("00".repeat(16));
    assert!(matches!(
        store.mark_synced_all(&with_unknown, UnixTime(T0 + DAY)),
        Err(StoreError::NoSuchRecord { .. })
    ));
    assert_eq!(store.info().expect("info").pending_sync, 3);
    store
        .mark_synced_all(&ids[..2], UnixTime(T0 + DAY))
        .expect("marks");
    assert_eq!(store.info().expect("info").pending_sync, 1);
    // Marking again keeps the first time.
    store
        .mark_synced_all(&ids[..1], UnixTime(T0 + 2 * DAY))
        .expect("marks");
    let first = store.get(&ids[0]).expect("reads");
    assert_eq!(first.synced_at, Some(UnixTime(T0 + DAY)));
}

/// verify-chain reads records in batches (64 rows; 8 here) that every core takes from one queue
/// and checks while the next are read: problems in any batch, and at the edges
/// between them, are still named at their own positions, in order, as with one batch.
#[test]
fn problems_across_verification_batches_are_named_at_their_positions() {
    let fixture = fixture();
    let mut store =
        Store::create_with(&fixture.path, &keys(), Box::new(Counter(1))).expect("creates");
    let drafts = (0..40)
        .map(|i| draft(&format!("JP-ITEM-{i:04}"), T0 + i, "handheld-01"))
        .collect();
    store.append_all(drafts, &signer()).expect("appends");
    let report = store.verify_chain_in_batches(8).expect("verifies");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.verified, 40);
    drop(store);
    {
        let conn = rusqlite::Connection::open(&fixture.path).expect("opens");
        // 16: the last row of the second batch, edited; 17: the first of the third, deleted;
        // 33: the first of the fifth, holding another position's record.
        let mut sealed: Vec<u8> = conn
            .query_row("SELECT sealed FROM records WHERE seq = 16", [], |row| {
                row.get(0)
            })
            .expect("reads");
        sealed[100] ^= 1;
        conn.execute("UPDATE records SET sealed = ?1 WHERE seq = 16", [sealed])
            .expect("edits");
        conn.execute("DELETE FROM records WHERE seq = 17", [])
            .expect("deletes");
        conn.execute(
            "UPDATE records SET sealed = (SELECT sealed FROM records WHERE seq = 7)
             WHERE seq = 33",
            [],
        )
        .expect("moves");
    }
    let store = Store::open(&fixture.path, &keys()).expect("opens");
    let report = store.verify_chain_in_batches(8).expect("verifies");
    let found: Vec<(u64, &Problem)> = report
        .problems
        .iter()
        .map(|p| (p.position, &p.problem))
        .collect();
    let unreadable = Problem::Unreadable {
        why: "does not decrypt under the store key".into(),
    };
    assert_eq!(
        found,
        vec![
            (16, &unreadable),
            (17, &Problem::Missing { from: 17, to: 17 }),
            (
                33,
                &Problem::IndexMismatch {
                    column: "record_id"
                }
            ),
            (
                33,
                &Problem::IndexMismatch {
                    column: "recorded_at"
                }
            ),
            (33, &Problem::Duplicate { first_position: 7 }),
        ]
    );
    // The chain resumes after each problem: the records after them verify.
    assert_eq!(report.checked, 39);
    assert_eq!(report.verified, 39 - 2);
    // The same report as in one batch, and in batches of one.
    assert_eq!(store.verify_chain().expect("verifies"), report);
    assert_eq!(store.verify_chain_in_batches(1).expect("verifies"), report);
}

/// SQLite's structural check runs beside the chain on its own connection, and still decides:
/// a damaged page the chain never reads (an index's) makes verify-chain fail as damaged, while
/// every record on it would verify.
#[test]
fn a_damaged_file_is_reported_though_the_chain_reads_well() {
    let fixture = fixture();
    let mut store =
        Store::create_with(&fixture.path, &keys(), Box::new(Counter(1))).expect("creates");
    let drafts = (0..40)
        .map(|i| draft(&format!("JP-ITEM-{i:04}"), T0 + i, "handheld-01"))
        .collect();
    store.append_all(drafts, &signer()).expect("appends");
    assert!(store.verify_chain().expect("verifies").is_intact());
    drop(store);
    let (page_size, root): (i64, i64) = {
        let conn = rusqlite::Connection::open(&fixture.path).expect("opens");
        let page_size = conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .expect("page size");
        let root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'records_by_time'",
                [],
                |row| row.get(0),
            )
            .expect("the index's root page");
        (page_size, root)
    };
    let mut bytes = std::fs::read(&fixture.path).expect("reads");
    let start = usize::try_from((root - 1) * page_size).expect("a page of the file");
    // The b-tree page's type byte: 0x0A (index leaf) becomes a type that does not exist.
    bytes[start] = 0x07;
    std::fs::write(&fixture.path, &bytes).expect("writes");
    let store = Store::open(&fixture.path, &keys()).expect("the records' own pages still open");
    match store.verify_chain() {
        Err(StoreError::Corrupt { .. }) => {}
        other => panic!("a damaged index page went unreported: {other:?}"),
    }
    // The chain alone would have verified: the damage is only the structural check's finding.
    let report = store.follow_chain(8).expect("the chain reads");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.verified, 40);
}

#[path = "tests_append.rs"]
mod append;
