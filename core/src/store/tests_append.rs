//! Appends: the head an append remembers, two handles on one file, and rollbacks.

use super::*;

fn head_in_meta(path: &std::path::Path) -> Vec<u8> {
    let conn = rusqlite::Connection::open(path).expect("opens");
    conn.query_row("SELECT value FROM meta WHERE name = 'head'", [], |row| {
        row.get(0)
    })
    .expect("a head")
}

/// Each handle remembers the head it wrote; the other's appends move the head under it, and
/// every append still follows the last record, whichever handle wrote it.
#[test]
fn two_handles_on_one_file_continue_one_chain() {
    let (fixture, mut first) = filled(1);
    let mut second = Store::open(&fixture.path, &keys()).expect("opens");
    let signer = signer();
    let mut seqs = Vec::new();
    for (i, which) in [0, 1, 0, 0, 1].into_iter().enumerate() {
        let store = if which == 0 { &mut first } else { &mut second };
        let appended = store
            .append(
                draft(&format!("JP-TWO-{i}"), T0 + 60, "handheld-01"),
                &signer,
            )
            .expect("appends");
        seqs.push(appended.seq);
    }
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
    for store in [&first, &second] {
        let report = store.verify_chain().expect("verifies");
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.verified, 6);
        assert_eq!(store.info().expect("info").last, Some(6));
    }
}

/// The remembered head saves unsealing only while `meta` holds exactly the bytes it wrote:
/// edited bytes are unsealed, fail, and refuse the append.
#[test]
fn an_edited_head_refuses_the_next_append() {
    let (fixture, mut store) = filled(2);
    let mut edited = head_in_meta(&fixture.path);
    let last = edited.len() - 1;
    edited[last] ^= 1;
    {
        let conn = rusqlite::Connection::open(&fixture.path).expect("opens");
        conn.execute("UPDATE meta SET value = ?1 WHERE name = 'head'", [&edited])
            .expect("edits");
    }
    let result = store.append(draft("JP-EDIT", T0, "handheld-01"), &signer());
    assert!(
        matches!(result, Err(StoreError::MetaDamaged { what: "chain head" })),
        "{result:?}"
    );
    let conn = rusqlite::Connection::open(&fixture.path).expect("opens");
    let records: i64 = conn
        .query_row("SELECT COUNT(*) FROM records", [], |row| row.get(0))
        .expect("counts");
    assert_eq!(records, 2);
}

/// A batch refused halfway leaves nothing of itself: no record, the head where it was, and
/// the next append goes on from there.
#[test]
fn a_refused_batch_rolls_back_and_the_store_goes_on() {
    let (fixture, mut store) = filled(2);
    let head_before = head_in_meta(&fixture.path);
    let result = store.append_all(
        vec![
            draft("JP-OK", T0, "handheld-01"),
            draft("JP-FOREIGN", T0, "handheld-02"),
        ],
        &signer(),
    );
    assert!(
        matches!(result, Err(StoreError::ForeignDevice { .. })),
        "{result:?}"
    );
    assert_eq!(store.info().expect("info").records, 2);
    assert_eq!(head_in_meta(&fixture.path), head_before);
    let appended = store
        .append(draft("JP-NEXT", T0, "handheld-01"), &signer())
        .expect("appends");
    assert_eq!(appended.seq, 3);
    drop(store);
    // A fresh handle agrees: nothing missing, nothing beyond the head.
    let store = Store::open(&fixture.path, &keys()).expect("opens");
    let report = store.verify_chain().expect("verifies");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.verified, 3);
}
