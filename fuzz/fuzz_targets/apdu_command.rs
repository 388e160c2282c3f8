#![no_main]
//! Command APDUs (the software card and trace replay parse them): decode, and what decodes must
//! re-encode to the same bytes.

use honnin_core::apdu::Command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = Command::parse(data) {
        let encoded = command.to_bytes().expect("a parsed command encodes");
        assert_eq!(Command::parse(&encoded), Ok(command.clone()));
        assert_eq!(encoded.len(), command.encoded_len());
    }
});
