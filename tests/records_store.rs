//! The record store with records of real door checks (levels A, B and C against the software
//! card): nothing readable in the raw files, tampering named by position, damaged files refused.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use honnin_core::check::Level;
use honnin_core::record::{AttributePolicy, Problem, RecordError, SoftwareSigner};
use honnin_core::store::{Store, StoreError};
use honnin_e2e::records::{device_signer, draft_of, genuine_report, store_keys};
use honnin_simcard::holder::TEST_HOLDER;

struct Fixture {
    dir: tempfile::TempDir,
    path: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("records.db");
    Fixture { dir, path }
}

/// A store with `n` records cycling through levels A, B and C, every attribute kept.
fn store_with(n: usize) -> (Fixture, Store) {
    let fixture = fixture();
    let mut store = Store::create(&fixture.path, &store_keys()).expect("creates");
    let reports = [Level::A, Level::B, Level::C].map(genuine_report);
    for i in 0..n {
        let draft = draft_of(&reports[i % 3], AttributePolicy::ALL);
        store.append(draft, &device_signer()).expect("appends");
    }
    (fixture, store)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// What must never be readable in the store's files: the holder's name and address, the item,
/// sender and courier ids, and every certificate of every record, raw and as stored in records.
fn needles(store: &Store) -> Vec<(String, Vec<u8>)> {
    let mut needles: Vec<(String, Vec<u8>)> = vec![
        ("holder name".into(), TEST_HOLDER.name.as_bytes().to_vec()),
        (
            "holder address".into(),
            TEST_HOLDER.address.as_bytes().to_vec(),
        ),
        ("item id".into(), b"JP-ITEM-0001".to_vec()),
        ("sender id".into(), b"test-bank".to_vec()),
        ("courier id".into(), b"courier-7".to_vec()),
        ("device id".into(), b"handheld-01".to_vec()),
        ("birth date".into(), b"1990-04-01".to_vec()),
    ];
    // Family name alone, in case a name is split.
    if let Some(family) = TEST_HOLDER.name.split([' ', '\u{3000}']).next() {
        needles.push(("family name".into(), family.as_bytes().to_vec()));
    }
    for row in store.list(0, usize::MAX).expect("lists") {
        let record = row.record.expect("reads");
        for (i, b64) in record.body().certificates().iter().enumerate() {
            let der = BASE64.decode(b64).expect("base64");
            for (j, chunk) in der.chunks(48).filter(|c| c.len() == 48).enumerate() {
                needles.push((
                    format!("#{} certificate {i} bytes {j}", row.position),
                    chunk.to_vec(),
                ));
            }
            for (j, chunk) in b64
                .as_bytes()
                .chunks(48)
                .filter(|c| c.len() == 48)
                .enumerate()
            {
                needles.push((
                    format!("#{} certificate {i} base64 {j}", row.position),
                    chunk.to_vec(),
                ));
            }
        }
    }
    needles
}

fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("lists dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let bytes = std::fs::read(&path).expect("reads");
            (path, bytes)
        })
        .collect()
}

fn assert_nothing_readable(dir: &Path, needles: &[(String, Vec<u8>)]) -> usize {
    let files = files_in(dir);
    for (path, bytes) in &files {
        for (what, needle) in needles {
            assert!(
                !contains(bytes, needle),
                "{what} readable in {}",
                path.display()
            );
        }
    }
    files.len()
}

#[test]
fn nothing_readable_in_the_database_wal_or_other_files() {
    let (fixture, mut store) = store_with(9);
    let needles = needles(&store);
    assert!(needles.len() > 100, "certificates give many needles");

    // The scanner finds them where they are in clear: in a clear export.
    let export = store
        .export(
            honnin_core::verify::UnixTime(0),
            honnin_core::verify::UnixTime(i64::MAX),
        )
        .expect("exports");
    let clear = export.to_clear_json();
    for (what, needle) in needles.iter().filter(|(w, _)| !w.contains("bytes")) {
        assert!(
            contains(&clear, needle),
            "control: {what} is in the clear export"
        );
    }
    // A sealed export is as unreadable as the store.
    let sealed = store.seal_export(&export);
    for (what, needle) in &needles {
        assert!(
            !contains(&sealed, needle),
            "{what} readable in a sealed export"
        );
    }

    // While the store is open the records sit in the WAL.
    let wal = fixture.path.with_file_name("records.db-wal");
    assert!(wal.exists(), "WAL present while open");
    assert!(std::fs::metadata(&wal).expect("wal").len() > 0);
    let scanned = assert_nothing_readable(fixture.dir.path(), &needles);
    assert!(scanned >= 3, "db, -wal and -shm scanned: {scanned}");

    // After close (the WAL checkpointed into the main file) as well.
    drop(store);
    let scanned = assert_nothing_readable(fixture.dir.path(), &needles);
    assert!(scanned >= 1);
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

fn audit(path: &Path) -> honnin_core::record::ChainReport {
    Store::open_for_audit(path, &store_keys())
        .expect("opens for audit")
        .verify_chain()
        .expect("verifies")
}

fn positions(report: &honnin_core::record::ChainReport) -> Vec<u64> {
    report.problems.iter().map(|p| p.position).collect()
}

#[test]
fn an_edited_record_is_named_by_position() {
    let (fixture, store) = store_with(6);
    drop(store);
    let conn = raw(&fixture.path);
    let mut sealed: Vec<u8> = conn
        .query_row("SELECT sealed FROM records WHERE seq = 3", [], |row| {
            row.get(0)
        })
        .expect("reads");
    sealed[100] ^= 0x01;
    conn.execute("UPDATE records SET sealed = ?1 WHERE seq = 3", [sealed])
        .expect("edits");
    drop(conn);
    let report = audit(&fixture.path);
    assert_eq!(positions(&report), [3], "{report:?}");
    assert!(matches!(
        report.problems[0].problem,
        Problem::Unreadable { .. }
    ));
    assert!(report.problems[0].to_string().starts_with("position 3:"));
}

#[test]
fn an_edited_clear_column_is_named() {
    let (fixture, store) = store_with(4);
    drop(store);
    raw(&fixture.path)
        .execute("UPDATE records SET recorded_at = 0 WHERE seq = 2", [])
        .expect("edits");
    let report = audit(&fixture.path);
    assert_eq!(
        report.problems[0].problem,
        Problem::IndexMismatch {
            column: "recorded_at"
        }
    );
    assert_eq!(positions(&report), [2]);
}

#[test]
fn a_deleted_record_is_named() {
    let (fixture, store) = store_with(6);
    drop(store);
    raw(&fixture.path)
        .execute("DELETE FROM records WHERE seq = 4", [])
        .expect("deletes");
    let report = audit(&fixture.path);
    assert_eq!(positions(&report), [4]);
    assert_eq!(
        report.problems[0].problem,
        Problem::Missing { from: 4, to: 4 }
    );
    // Normal use still opens the store (the head is there); verify-chain tells.
    Store::open(&fixture.path, &store_keys()).expect("opens");
}

#[test]
fn a_record_deleted_from_the_end_stops_the_store_from_opening() {
    let (fixture, store) = store_with(5);
    drop(store);
    raw(&fixture.path)
        .execute("DELETE FROM records WHERE seq = 5", [])
        .expect("deletes");
    let error = Store::open(&fixture.path, &store_keys()).expect_err("refused");
    assert!(
        matches!(error, StoreError::RecordsMissing { from: 5, to: 5 }),
        "{error}"
    );
    assert_eq!(positions(&audit(&fixture.path)), [5]);
}

#[test]
fn reordered_records_are_named() {
    let (fixture, store) = store_with(6);
    drop(store);
    let conn = raw(&fixture.path);
    conn.execute_batch(
        "UPDATE records SET seq = 100 WHERE seq = 2;
         UPDATE records SET seq = 2 WHERE seq = 5;
         UPDATE records SET seq = 5 WHERE seq = 100;",
    )
    .expect("swaps");
    drop(conn);
    let report = audit(&fixture.path);
    assert_eq!(positions(&report), [2, 5], "{report:?}");
    assert_eq!(report.problems[0].problem, Problem::Moved { holds_seq: 5 });
    assert_eq!(report.problems[1].problem, Problem::Moved { holds_seq: 2 });
}

#[test]
fn a_reinserted_record_is_named() {
    let (fixture, store) = store_with(6);
    drop(store);
    let conn = raw(&fixture.path);
    // Taken out at 3 and put back at the end.
    conn.execute("UPDATE records SET seq = 7 WHERE seq = 3", [])
        .expect("moves");
    drop(conn);
    let report = audit(&fixture.path);
    assert_eq!(positions(&report), [3, 7, 7], "{report:?}");
    assert_eq!(
        report.problems[0].problem,
        Problem::Missing { from: 3, to: 3 }
    );
    assert_eq!(report.problems[1].problem, Problem::Moved { holds_seq: 3 });

    // A copy of record 2 inserted in place of record 4.
    let (fixture, store) = store_with(6);
    drop(store);
    let conn = raw(&fixture.path);
    conn.execute_batch(
        "UPDATE records SET sealed = (SELECT sealed FROM records WHERE seq = 2) WHERE seq = 4;",
    )
    .expect("copies");
    drop(conn);
    let report = audit(&fixture.path);
    assert_eq!(positions(&report), [4, 4], "{report:?}");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.problem == Problem::Duplicate { first_position: 2 })
    );
}

#[test]
fn a_record_from_another_device_key_is_rejected() {
    // Two copies of one empty store (same id and key); each gets records from another device
    // key; then a record of the second is planted in the first.
    let fixture = fixture();
    drop(Store::create(&fixture.path, &store_keys()).expect("creates"));
    let twin = fixture.dir.path().join("twin.db");
    std::fs::copy(&fixture.path, &twin).expect("copies");
    let report = genuine_report(Level::B);
    let mut store = Store::open(&fixture.path, &store_keys()).expect("opens");
    let mut twin_store = Store::open(&twin, &store_keys()).expect("opens twin");
    let other = SoftwareSigner::from_secret_bytes(&[0x77; 32]).expect("valid scalar");
    for _ in 0..3 {
        store
            .append(
                draft_of(&report, AttributePolicy::default()),
                &device_signer(),
            )
            .expect("appends");
        twin_store
            .append(draft_of(&report, AttributePolicy::default()), &other)
            .expect("appends to twin");
    }
    // The store itself refuses the other key.
    assert!(matches!(
        store.append(draft_of(&report, AttributePolicy::default()), &other),
        Err(StoreError::ForeignDevice { .. })
    ));
    drop(store);
    drop(twin_store);
    let conn = raw(&fixture.path);
    conn.execute(
        "ATTACH DATABASE ?1 AS twin",
        [twin.to_str().expect("utf-8 path")],
    )
    .expect("attaches");
    conn.execute(
        "UPDATE records SET sealed = (SELECT sealed FROM twin.records WHERE seq = 2),
                            record_id = (SELECT record_id FROM twin.records WHERE seq = 2)
         WHERE seq = 2",
        [],
    )
    .expect("plants");
    drop(conn);
    let report = audit(&fixture.path);
    assert_eq!(positions(&report), [2], "{report:?}");
    assert!(matches!(
        report.problems[0].problem,
        Problem::Rejected(RecordError::ForeignKey { .. })
    ));
}

/// Whatever happens to the file, the store never reports fewer intact records than it held:
/// it refuses to open, reports damage, or names the problems.
#[track_caller]
fn assert_not_silently_short(path: &Path, held: u64) {
    let outcome = Store::open(path, &store_keys()).and_then(|store| store.verify_chain());
    match outcome {
        Ok(report) => {
            eprintln!(
                "  -> {} verified, {} problems",
                report.verified,
                report.problems.len()
            );
            assert!(
                !report.is_intact() || report.verified == held,
                "a damaged store verified with {} of {held} records",
                report.verified
            );
        }
        Err(error) => {
            eprintln!("  -> {error}");
            let text = error.to_string();
            assert!(!text.is_empty());
            assert!(
                matches!(
                    error,
                    StoreError::Corrupt { .. }
                        | StoreError::NotAStore { .. }
                        | StoreError::RecordsMissing { .. }
                        | StoreError::MetaDamaged { .. }
                        | StoreError::WrongKey
                ),
                "unexpected error kind: {error:?}"
            );
        }
    }
}

#[test]
fn truncated_or_damaged_files_give_a_clear_error() {
    let (fixture, store) = store_with(12);
    drop(store);
    let original = std::fs::read(&fixture.path).expect("reads");
    let page = 4096;
    assert!(
        original.len() > 4 * page,
        "several pages: {}",
        original.len()
    );
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("10 bytes".into(), original[..10].to_vec()),
        ("header only".into(), original[..100].to_vec()),
        ("first page".into(), original[..page].to_vec()),
    ];
    for cut in [
        original.len() / 2,
        original.len() - page,
        original.len() - 1,
    ] {
        cases.push((format!("cut at {cut}"), original[..cut].to_vec()));
    }
    for offset in (page..original.len()).step_by(page * 2) {
        let mut damaged = original.clone();
        for byte in &mut damaged[offset..offset + 64] {
            *byte ^= 0xA5;
        }
        cases.push((format!("64 bytes flipped at {offset}"), damaged));
    }
    for (what, bytes) in cases {
        std::fs::write(&fixture.path, &bytes).expect("writes");
        let _ = std::fs::remove_file(fixture.path.with_file_name("records.db-wal"));
        let _ = std::fs::remove_file(fixture.path.with_file_name("records.db-shm"));
        eprintln!("case: {what}");
        assert_not_silently_short(&fixture.path, 12);
    }
    // The untouched file still verifies.
    std::fs::write(&fixture.path, &original).expect("writes");
    let report = Store::open(&fixture.path, &store_keys())
        .expect("opens")
        .verify_chain()
        .expect("verifies");
    assert!(report.is_intact());
    assert_eq!(report.verified, 12);
}

#[test]
fn records_keep_only_what_the_policy_asks_and_never_the_face_or_number() {
    let (_fixture, mut store) = store_with(0);
    for level in [Level::A, Level::B, Level::C] {
        let report = genuine_report(level);
        store
            .append(
                draft_of(&report, AttributePolicy::default()),
                &device_signer(),
            )
            .expect("appends");
    }
    for row in store.list(0, 10).expect("lists") {
        let record = row.record.expect("reads");
        let json = String::from_utf8(record.to_envelope_bytes()).expect("utf-8");
        assert!(record.body().attributes().is_none());
        assert!(!json.contains("face") || json.contains("card_face"));
        assert!(!json.contains("DF31") && !json.contains("individual"));
        let level = record.body().level().code();
        if level != "C" {
            // Only the signing certificate (level C) carries the holder's name.
            assert!(!json.contains(TEST_HOLDER.name), "level {level}");
        }
        match level {
            "A" => assert!(record.body().card_face().is_some()),
            _ => assert_eq!(record.body().certificates().len(), 2),
        }
        assert!(record.body().challenge().is_some());
        assert!(record.body().card_signature().is_some());
    }
}
