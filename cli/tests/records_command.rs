//! `honnin check --store` and `honnin records …` as an operator runs them: the record is stored
//! before the verdict is printed, listed, shown, verified, exported; key files are private; a
//! store of another device is refused before the card is touched; tampering is reported.

use std::path::Path;
use std::process::{Command, Output};

fn honnin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args(args)
        .output()
        .expect("honnin runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn check(store: &Path, item: &str, device: &str, extra: &[&str]) -> Output {
    let store = store.to_str().expect("utf-8 path");
    let mut args = vec![
        "check",
        "--reader",
        "sim:genuine",
        "--level",
        "B",
        "--item",
        item,
        "--sender",
        "bank",
        "--device",
        device,
        "--addressee",
        "試験 花子",
        "--check-time",
        "2026-11-25",
        "--store",
        store,
        "--courier",
        "courier-7",
        "--json",
    ];
    args.extend_from_slice(extra);
    honnin(&args)
}

fn records(command: &str, store: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "records",
        command,
        "--store",
        store.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    honnin(&args)
}

#[test]
fn a_check_stores_its_record_and_the_records_commands_read_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("records.db");
    let mut ids = Vec::new();
    for item in ["JP-0001", "JP-0002", "JP-0003"] {
        let out = check(
            &store,
            item,
            "counter-1",
            &["--record-attributes", "birth_date"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(json["verdict"], "genuine");
        let id = json["record"]["id"].as_str().expect("record id").to_owned();
        assert_eq!(id.len(), 32);
        ids.push((json["record"]["seq"].as_u64().expect("seq"), id));
    }
    assert_eq!(
        ids.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );

    #[cfg(unix)]
    for name in ["records.db.key", "device-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(name))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }

    let out = records("list", &store, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed = text(&out);
    for (_, id) in &ids {
        assert!(listed.contains(id.as_str()), "{listed}");
    }
    assert!(listed.contains("3 records"), "{listed}");
    // `honnin check` is a door check: its records say so (the console's say counter).
    assert_eq!(listed.matches(" door ").count(), 3, "{listed}");

    let out = records("show", &store, &["#2", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(shown["record"]["body"]["record_id"], ids[1].1.as_str());
    assert_eq!(shown["record"]["body"]["item_id"], "JP-0002");
    assert_eq!(
        shown["record"]["body"]["attributes"]["birth_date"],
        "1990-04-01"
    );
    assert_eq!(
        shown["record"]["body"]["attributes"]["name"],
        serde_json::Value::Null
    );
    assert!(
        shown["signature"]
            .as_str()
            .expect("status")
            .starts_with("verified")
    );

    let out = records("verify-chain", &store, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("chain intact: 3 records"),
        "{}",
        text(&out)
    );

    // Sealed export by default; clear only when asked. The check time is midnight UTC, which
    // is 09:00 on the same day in Japan.
    let sealed = dir.path().join("day.sealed.json");
    let out = records(
        "export",
        &store,
        &[
            "--day",
            "2026-11-25",
            "--out",
            sealed.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bytes = std::fs::read_to_string(&sealed).expect("export");
    assert!(bytes.contains("honnin.export.sealed.v1") && !bytes.contains("JP-0001"));
    let clear = dir.path().join("day.json");
    let out = records(
        "export",
        &store,
        &[
            "--day",
            "2026-11-25",
            "--out",
            clear.to_str().expect("utf-8"),
            "--decrypted",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("IN CLEAR"));
    let export: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&clear).expect("export")).expect("json");
    assert_eq!(export["records"].as_array().expect("records").len(), 3);

    // The device key never appears in anything printed.
    let pem = std::fs::read_to_string(dir.path().join("device-key.pem")).expect("pem");
    let secret_line = pem.lines().nth(1).expect("key body");
    assert!(!listed.contains(secret_line));
}

#[test]
fn a_store_of_another_device_is_refused_before_the_card_is_touched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("records.db");
    let out = check(&store, "JP-0001", "counter-1", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = check(&store, "JP-0002", "counter-2", &[]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    let message = text(&out);
    assert!(
        message.contains("belongs to device \"counter-1\""),
        "{message}"
    );
    // No verdict was printed: the card was never read.
    assert!(!message.contains("verdict"), "{message}");
}

#[test]
fn key_files_readable_by_others_or_missing_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("records.db");
    let out = check(&store, "JP-0001", "counter-1", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let key = dir.path().join("records.db.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = records("list", &store, &[]);
        assert_eq!(out.status.code(), Some(69), "{}", text(&out));
        assert!(text(&out).contains("chmod 600"), "{}", text(&out));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    std::fs::rename(&key, dir.path().join("elsewhere.key")).expect("moves");
    let out = records("list", &store, &[]);
    assert_eq!(out.status.code(), Some(69), "{}", text(&out));
    assert!(
        text(&out).contains("store key is missing"),
        "{}",
        text(&out)
    );
    // The check refuses too, before reading the card, rather than start a new store.
    let out = check(&store, "JP-0002", "counter-1", &[]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("verdict"));
}

#[test]
fn verify_chain_names_the_position_of_a_tampered_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("records.db");
    for item in ["JP-0001", "JP-0002", "JP-0003", "JP-0004"] {
        let out = check(&store, item, "counter-1", &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    {
        let conn = rusqlite::Connection::open(&store).expect("raw");
        conn.execute("DELETE FROM records WHERE seq = 2", [])
            .expect("deletes");
        let mut sealed: Vec<u8> = conn
            .query_row("SELECT sealed FROM records WHERE seq = 3", [], |r| r.get(0))
            .expect("reads");
        sealed[40] ^= 0x80;
        conn.execute("UPDATE records SET sealed = ?1 WHERE seq = 3", [sealed])
            .expect("edits");
    }
    let out = records("verify-chain", &store, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = text(&out);
    assert!(report.contains("CHAIN BROKEN"), "{report}");
    assert!(
        report.contains("position 2: record #2 is missing"),
        "{report}"
    );
    assert!(report.contains("position 3: cannot be read"), "{report}");
    let out = records("verify-chain", &store, &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["intact"], false);
    assert_eq!(json["problems"][0]["position"], 2);
}
