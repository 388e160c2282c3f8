//! docs/threat-model.md names, for every line, the test that holds it: each named test must
//! exist, so the page cannot promise what no test checks any more.

use std::path::Path;

#[test]
fn every_test_the_threat_model_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let page = std::fs::read_to_string(root.join("docs/threat-model.md")).expect("the page");
    let mut named = 0;
    for reference in page.split('`').skip(1).step_by(2) {
        let Some((file, test)) = reference.split_once("::") else {
            continue;
        };
        if !file.ends_with(".rs") {
            continue;
        }
        named += 1;
        let source = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("docs/threat-model.md names {file}, which is gone: {e}"));
        assert!(
            source.contains(&format!("fn {test}(")),
            "docs/threat-model.md names {file}::{test}, which is not there"
        );
    }
    // Each table row names at least one test; fewer references mean the parsing broke.
    let rows = page
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| it ") && !l.starts_with("|---"))
        .count();
    assert!(named >= rows, "{named} tests named for {rows} rows");
}
