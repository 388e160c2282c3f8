#![no_main]
//! APDU trace files (fixtures, bug reports).

use honnin_core::transport::Trace;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(trace) = Trace::parse(text)
    {
        assert_eq!(Trace::parse(&trace.to_text()), Ok(trace));
    }
});
