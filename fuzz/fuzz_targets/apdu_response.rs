#![no_main]
//! Response APDUs as the card sends them.

use honnin_core::apdu::Response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = Response::parse(data) {
        assert_eq!(response.to_bytes(), data);
        let _ = response.status().decode();
    }
});
