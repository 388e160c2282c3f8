//! The card's images for the browser. The core decodes them (the face photo from JPEG 2000,
//! which no browser shows; name and address from PNG) and checks their size; here the pixels
//! are written again as PNG, a format every browser shows, and kept only in wiped memory until
//! the clerk has decided.
//!
//! A phone's portrait (level M) is JPEG or JPEG 2000 (ISO/IEC 18013-5). Its bytes are under the
//! issuer's signature, verified before it is shown. JPEG goes to the browser as it came (every
//! browser decodes it, and a re-encoding would need a JPEG decoder here for nothing); JPEG 2000
//! is decoded and written as PNG like the card's photo.

use honnin_core::check::FaceImages;
use honnin_core::image::RgbaImage;
use zeroize::{Zeroize, Zeroizing};

use super::state::Images;

/// PNG of an RGBA image. The encoder's own buffers are freed, not wiped; what stays is wiped.
pub fn to_png(image: &RgbaImage) -> Result<Zeroizing<Vec<u8>>, png::EncodingError> {
    let mut out = Vec::with_capacity(image.pixels.len() / 2 + 1024);
    let result = (|| {
        let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        // Fast: a few hundred kilobytes at most, once per check, on loopback.
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&image.pixels)?;
        writer.finish()
    })();
    match result {
        Ok(()) => Ok(Zeroizing::new(out)),
        Err(error) => {
            out.zeroize();
            Err(error)
        }
    }
}

/// The images of a level A check, each `None` where the card had none or it cannot be shown.
pub fn for_browser(images: &FaceImages) -> Images {
    let encode = |image: &Option<RgbaImage>| image.as_ref().and_then(|i| to_png(i).ok());
    Images {
        face: encode(&images.face),
        face_type: "image/png",
        name: encode(&images.name),
        address: encode(&images.address),
    }
}

/// The phone's verified portrait for the browser, or `None` when it is neither JPEG nor a JPEG
/// 2000 this decoder reads (then nothing is shown, and no decision can be taken on it).
pub fn for_browser_portrait(portrait: &[u8]) -> Option<Images> {
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF];
    let (face, face_type) = if portrait.starts_with(JPEG) {
        (Zeroizing::new(portrait.to_vec()), "image/jpeg")
    } else {
        let image = honnin_core::image::decode_jpeg2000(portrait).ok()?;
        (to_png(&image).ok()?, "image/png")
    };
    Some(Images {
        face: Some(face),
        face_type,
        ..Images::default()
    })
}

/// Which images there are, by the names the page asks for them.
pub fn kinds(images: &Images) -> Vec<&'static str> {
    [
        ("face", images.face.is_some()),
        ("name", images.name.is_some()),
        ("address", images.address.is_some()),
    ]
    .into_iter()
    .filter(|(_, there)| *there)
    .map(|(kind, _)| kind)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_come_back_from_the_png() {
        let image = RgbaImage {
            width: 3,
            height: 2,
            pixels: (0u8..24).collect(),
        };
        let png = to_png(&image).expect("encodes");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let decoded = honnin_core::image::decode_png(&png).expect("decodes");
        assert_eq!(decoded, image);
    }

    #[test]
    fn a_wrong_pixel_count_is_an_error_not_a_panic() {
        let image = RgbaImage {
            width: 3,
            height: 2,
            pixels: vec![0; 5],
        };
        assert!(to_png(&image).is_err());
    }

    #[test]
    fn a_phone_portrait_is_shown_as_jpeg_or_png_and_anything_else_not_at_all() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
        let shown = for_browser_portrait(&jpeg).expect("JPEG passes");
        assert_eq!(shown.face_type, "image/jpeg");
        assert_eq!(shown.face.as_deref().map(Vec::as_slice), Some(&jpeg[..]));
        assert_eq!(kinds(&shown), vec!["face"]);

        // The software phone sends the card's JPEG 2000 photo: decoded, then PNG.
        let jp2 = honnin_simcard::Fixtures::embedded()
            .file(honnin_simcard::names::FACE_IMAGE)
            .expect("face image")
            .to_vec();
        let shown = for_browser_portrait(&jp2).expect("JPEG 2000 decodes");
        assert_eq!(shown.face_type, "image/png");
        assert!(shown.face.expect("face").starts_with(b"\x89PNG"));

        assert!(for_browser_portrait(b"GIF89a not a portrait").is_none());
        assert!(for_browser_portrait(&[]).is_none());
    }

    #[test]
    fn only_present_images_are_named() {
        let images = Images {
            face: Some(Zeroizing::new(vec![1])),
            address: Some(Zeroizing::new(vec![2])),
            ..Images::default()
        };
        assert_eq!(kinds(&images), vec!["face", "address"]);
    }
}
