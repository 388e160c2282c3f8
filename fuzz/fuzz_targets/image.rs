#![no_main]
//! Card-face images from a hostile chip: JPEG 2000 and PNG decoders must return typed errors.

use honnin_core::image::{decode_jpeg2000, decode_png};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = decode_jpeg2000(data) {
        assert_eq!(
            image.pixels.len(),
            image.width as usize * image.height as usize * 4
        );
    }
    if let Ok(image) = decode_png(data) {
        assert_eq!(
            image.pixels.len(),
            image.width as usize * image.height as usize * 4
        );
    }
});
