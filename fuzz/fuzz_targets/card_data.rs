#![no_main]
//! Every structure parsed from card files: CV certificates, card-face data, the basic four
//! attributes, the input-support signature, RSA key objects.

use honnin_core::card::{
    BasicAttributes, CardFaceData, CvCertificate, InputSupportSignature, RsaPublicKeyObject,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = CvCertificate::parse(data);
    if let Ok(face) = CardFaceData::parse(data) {
        assert!(face.signed_bytes.len() <= data.len());
    }
    let _ = BasicAttributes::parse(data.to_vec());
    let _ = InputSupportSignature::parse(data);
    let _ = RsaPublicKeyObject::parse(data);
});
