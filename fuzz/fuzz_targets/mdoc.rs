#![no_main]
//! Everything a phone sends the mdoc reader: the engagement (QR text and NDEF handover), the
//! session messages, the DeviceResponse and a data object 53. Parsers must return errors, never
//! panic; a DeviceResponse that parses goes through issuer authentication with empty anchors.

use honnin_core::mdoc::request::ElementRequest;
use honnin_core::mdoc::response::parse_device_response;
use honnin_core::mdoc::session::{parse_establishment, parse_session_data};
use honnin_core::mdoc::transfer::unwrap;
use honnin_core::mdoc::{DeviceEngagement, IssuerAnchors, MdocProfile, ndef};
use honnin_core::record::AttributePolicy;
use honnin_core::verify::UnixTime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = DeviceEngagement::from_qr(text);
    }
    let _ = DeviceEngagement::from_handover_select(data);
    let _ = ndef::parse_message(data);
    let _ = parse_session_data(data);
    let _ = parse_establishment(data);
    let _ = ElementRequest::parse_device_request(data);
    let _ = unwrap(data);
    if let Ok(document) = parse_device_response(data) {
        let request =
            ElementRequest::door_check(&MdocProfile::default(), None, AttributePolicy::ALL);
        let _ = honnin_core::mdoc::issuer_auth::verify_issuer_auth(
            &document,
            &request,
            &IssuerAnchors::default(),
            UnixTime(1_790_000_000),
        );
    }
});
