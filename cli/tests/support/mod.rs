//! What the `honnin` command's tests share.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `honnin` with `args`, writing `stdin` (then closing it) as an operator's answers.
pub fn honnin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_honnin"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("honnin starts");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("writes stdin");
    }
    drop(input);
    child.wait_with_output().expect("honnin ends")
}
