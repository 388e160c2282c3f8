//! The OpenSSL command line as a baseline: the same chain and signature verified by
//! `openssl verify` and `openssl dgst -verify`, timed as whole processes, plus the RSA-2048 verify
//! rate `openssl speed` reports in-process. honnin itself has no OpenSSL dependency; only this
//! benchmark runs the binary, when it is installed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::pem::pem;
use crate::verification::RecordEvidence;

/// The binary, from `PATH`.
const OPENSSL: &str = "openssl";

/// `openssl version`, or `None` when the binary is missing.
pub fn version() -> Option<String> {
    let output = Command::new(OPENSSL).arg("version").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The evidence as files in a private temporary directory, removed on drop.
#[derive(Debug)]
pub struct EvidenceFiles {
    dir: PathBuf,
    root: PathBuf,
    card_ca: PathBuf,
    end_entity: PathBuf,
    public_key: PathBuf,
    message: PathBuf,
    signature: PathBuf,
    at: i64,
}

impl EvidenceFiles {
    pub fn write(evidence: &RecordEvidence) -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("honnin-bench-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let file = |name: &str, bytes: &[u8]| -> std::io::Result<PathBuf> {
            let path = dir.join(name);
            fs::write(&path, bytes)?;
            Ok(path)
        };
        Ok(Self {
            root: file("root.pem", pem("CERTIFICATE", &evidence.root).as_bytes())?,
            card_ca: file(
                "card-ca.pem",
                pem("CERTIFICATE", evidence.card_ca.as_bytes()).as_bytes(),
            )?,
            end_entity: file(
                "end-entity.pem",
                pem("CERTIFICATE", evidence.end_entity.as_bytes()).as_bytes(),
            )?,
            public_key: file(
                "end-entity.pub.pem",
                pem("PUBLIC KEY", &evidence.end_entity_spki).as_bytes(),
            )?,
            message: file("message.bin", &evidence.message)?,
            signature: file("signature.bin", &evidence.signature)?,
            at: evidence.at.0,
            dir,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `openssl verify -attime <check time> -CAfile root -untrusted card-ca end-entity`.
    pub fn verify_chain(&self) -> Result<(), String> {
        let output = Command::new(OPENSSL)
            .arg("verify")
            .arg("-attime")
            .arg(self.at.to_string())
            .arg("-CAfile")
            .arg(&self.root)
            .arg("-untrusted")
            .arg(&self.card_ca)
            .arg(&self.end_entity)
            .output()
            .map_err(|e| format!("openssl verify did not run: {e}"))?;
        expect_output(&output, "OK", "openssl verify")
    }

    /// `openssl dgst -sha256 -verify end-entity.pub.pem -signature signature.bin message.bin`.
    pub fn verify_signature(&self) -> Result<(), String> {
        let output = Command::new(OPENSSL)
            .arg("dgst")
            .arg("-sha256")
            .arg("-verify")
            .arg(&self.public_key)
            .arg("-signature")
            .arg(&self.signature)
            .arg(&self.message)
            .output()
            .map_err(|e| format!("openssl dgst did not run: {e}"))?;
        expect_output(&output, "Verified OK", "openssl dgst -verify")
    }

    /// Both, as one record's verification.
    pub fn verify_record(&self) -> Result<(), String> {
        self.verify_chain()?;
        self.verify_signature()
    }
}

impl Drop for EvidenceFiles {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn expect_output(output: &Output, expected: &str, what: &str) -> Result<(), String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.trim_end().ends_with(expected) {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {} {}",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A process that does nothing: `openssl version`, for the start-up cost alone.
pub fn start_up() -> Result<(), String> {
    version()
        .map(|_| ())
        .ok_or_else(|| "openssl version failed".to_string())
}

/// What `openssl speed -seconds <s> rsa2048` reports, in seconds per operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedRsa2048 {
    pub sign_seconds: f64,
    pub verify_seconds: f64,
}

/// Runs `openssl speed` (about 2 × `seconds` of one core).
pub fn speed_rsa2048(seconds: u32) -> Result<SpeedRsa2048, String> {
    let output = Command::new(OPENSSL)
        .args(["speed", "-seconds", &seconds.to_string(), "rsa2048"])
        .output()
        .map_err(|e| format!("openssl speed did not run: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    parse_speed(&stdout).ok_or_else(|| {
        format!(
            "no \"rsa 2048 bits\" line in openssl speed output ({})",
            output.status
        )
    })
}

/// Parses the summary line `rsa 2048 bits 0.000687s 0.000020s   1455.5  49231.0`, from the
/// operations per second at its end: the seconds columns round a 16.4 µs verify to 16 µs.
pub fn parse_speed(text: &str) -> Option<SpeedRsa2048> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rsa 2048 bits"))?;
    let mut per_second = line
        .split_whitespace()
        .rev()
        .take(2)
        .filter_map(|number| number.parse::<f64>().ok())
        .filter(|rate| *rate > 0.0);
    let verify = per_second.next()?;
    let sign = per_second.next()?;
    Some(SpeedRsa2048 {
        sign_seconds: 1.0 / sign,
        verify_seconds: 1.0 / verify,
    })
}

/// What `openssl speed -seconds <s> ecdsap256` reports for one verify, in seconds (from its
/// verifies per second: the seconds column has too few digits).
pub fn speed_ecdsap256_verify(seconds: u32) -> Result<f64, String> {
    let output = Command::new(OPENSSL)
        .args(["speed", "-seconds", &seconds.to_string(), "ecdsap256"])
        .output()
        .map_err(|e| format!("openssl speed did not run: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    parse_speed_ecdsap256(&stdout).ok_or_else(|| {
        format!(
            "no \"ecdsa (nistp256)\" line in openssl speed output ({})",
            output.status
        )
    })
}

/// Parses ` 256 bits ecdsa (nistp256)   0.0000s   0.0001s  51577.3  16977.2`: the last number
/// is verifies per second.
pub fn parse_speed_ecdsap256(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains("ecdsa (nistp256)"))?;
    let per_second: f64 = line.split_whitespace().last()?.parse().ok()?;
    (per_second > 0.0).then(|| 1.0 / per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_speed_summary_line() {
        let text = "Doing 2048 bits private rsa's for 1s: 1400 2048 bits private RSA's in 0.99s\n\
                    version: 3.0.19\n                  sign    verify    sign/s verify/s\n\
                    rsa 2048 bits 0.000687s 0.000020s   1455.5  49231.0\n";
        let speed = parse_speed(text).expect("parses");
        assert!((speed.sign_seconds - 1.0 / 1455.5).abs() < 1e-12);
        assert!((speed.verify_seconds - 1.0 / 49231.0).abs() < 1e-12);
        assert_eq!(parse_speed("no such line"), None);
    }

    #[test]
    fn parses_the_ecdsa_speed_line() {
        let text = "                              sign    verify    sign/s verify/s\n \
                    256 bits ecdsa (nistp256)   0.0000s   0.0001s  51577.3  20000.0\n";
        let seconds = parse_speed_ecdsap256(text).expect("parses");
        assert!((seconds - 0.00005).abs() < 1e-12);
        assert_eq!(parse_speed_ecdsap256("rsa 2048 bits 0.1s 0.1s 1 1"), None);
    }
}
