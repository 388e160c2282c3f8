//! Regenerates the committed test fixtures: `cargo run -p honnin-simcard --release --bin
//! gen-fixtures [-- OUT_DIR]` (default: the workspace's `fixtures/`).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `-- --mdoc-only`: only the software phone's PKI (fast: no RSA keys, no image encoder).
    if std::env::args().nth(1).as_deref() == Some("--mdoc-only") {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        return match honnin_simcard::mdoc::pki::write_fixtures(&out) {
            Ok(files) => {
                eprintln!("gen-fixtures: wrote {} mdoc files", files.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gen-fixtures: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures"));
    match honnin_simcard::generate::generate(&out, |step| eprintln!("gen-fixtures: {step}")) {
        Ok(files) => {
            eprintln!(
                "gen-fixtures: wrote {} files under {}",
                files.len(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-fixtures: {e}");
            ExitCode::FAILURE
        }
    }
}
