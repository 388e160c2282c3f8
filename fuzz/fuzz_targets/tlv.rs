#![no_main]
//! BER-TLV headers and containers: spans must stay inside the input.

use honnin_core::tlv::{Children, TlvHeader, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = TlvHeader::parse(data) {
        assert!(header.header_len <= data.len());
    }
    if let Ok(items) = split(data) {
        let covered: usize = items.iter().map(|i| i.encoded.len()).sum();
        assert!(covered <= data.len());
    }
    let _ = Children::parse(data);
});
