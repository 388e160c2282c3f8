//! Decoding the card-face images (face photo in JPEG 2000; name, address and security code in
//! PNG) into pixels for the courier to compare. Pixels live in memory only and are wiped on drop;
//! nothing here writes a file.
//!
//! Both decoders are pure Rust. Card images are small (a face photo is a few kilobytes), so
//! anything above [`MAX_PIXELS`] is refused before decoding: a hostile chip cannot make the
//! handheld allocate gigabytes.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Largest image accepted: 2,048 × 2,048 pixels.
pub const MAX_PIXELS: u64 = 2048 * 2048;

/// An image as RGBA, 8 bits per channel, rows top to bottom.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct RgbaImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for RgbaImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbaImage({}x{})", self.width, self.height)
    }
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("the face photo is not a readable JPEG 2000 image: {0}")]
    Jpeg2000(String),
    #[error("the image is not a readable PNG: {0}")]
    Png(String),
    #[error("the image is {width}x{height} pixels, larger than a card image can be")]
    TooLarge { width: u32, height: u32 },
    #[error("the image has {0} colour channels; 1, 2, 3 or 4 are expected")]
    UnsupportedChannels(usize),
}

fn check_size(width: u32, height: u32) -> Result<(), ImageError> {
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooLarge { width, height });
    }
    Ok(())
}

/// Expands interleaved samples of 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels.
fn to_rgba(
    width: u32,
    height: u32,
    channels: usize,
    samples: &[u8],
) -> Result<RgbaImage, ImageError> {
    let pixel_count = width as usize * height as usize;
    if !(1..=4).contains(&channels) {
        return Err(ImageError::UnsupportedChannels(channels));
    }
    if samples.len() < pixel_count * channels {
        return Err(ImageError::Png(format!(
            "{} samples for {pixel_count} pixels of {channels} channels",
            samples.len()
        )));
    }
    let mut pixels = Vec::with_capacity(pixel_count * 4);
    for px in samples.chunks_exact(channels).take(pixel_count) {
        let rgba = match *px {
            [g] => [g, g, g, 255],
            [g, a] => [g, g, g, a],
            [r, g, b] => [r, g, b, 255],
            [r, g, b, a] => [r, g, b, a],
            _ => return Err(ImageError::UnsupportedChannels(channels)),
        };
        pixels.extend_from_slice(&rgba);
    }
    Ok(RgbaImage {
        width,
        height,
        pixels,
    })
}

/// Decodes a JP2 file or raw JPEG 2000 codestream.
pub fn decode_jpeg2000(bytes: &[u8]) -> Result<RgbaImage, ImageError> {
    use hayro_jpeg2000::{DecodeSettings, DecoderContext, Image};
    let image = Image::new(bytes, &DecodeSettings::default())
        .map_err(|e| ImageError::Jpeg2000(format!("{e:?}")))?;
    check_size(image.width(), image.height())?;
    let (width, height) = (image.width(), image.height());
    let channels = usize::from(image.color_space().num_channels()) + usize::from(image.has_alpha());
    // The decoder forbids unsafe code but may still assert on inputs it does not expect; a card
    // image must never take the handheld down with it.
    let samples = catch_unwind(AssertUnwindSafe(|| {
        let mut context = DecoderContext::default();
        let decoded = image.decode(&mut context).map_err(|e| format!("{e:?}"))?;
        if decoded.components().is_empty() {
            return Err("no colour components".to_string());
        }
        Ok(decoded.data_u8())
    }))
    .map_err(|_| ImageError::Jpeg2000("the decoder rejected the image".into()))?
    .map_err(ImageError::Jpeg2000)?;
    let mut samples = samples;
    let result = to_rgba(width, height, channels, &samples);
    samples.zeroize();
    result
}

/// Decodes a PNG image.
pub fn decode_png(bytes: &[u8]) -> Result<RgbaImage, ImageError> {
    let png_error = |e: png::DecodingError| ImageError::Png(e.to_string());
    let limits = png::Limits {
        bytes: (MAX_PIXELS * 8) as usize,
    };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(png_error)?;
    let (width, height) = {
        let info = reader.info();
        (info.width, info.height)
    };
    check_size(width, height)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| ImageError::Png("image size overflows".into()))?;
    let mut samples = vec![0u8; size];
    let frame = reader.next_frame(&mut samples).map_err(png_error)?;
    let channels = frame.color_type.samples();
    let result = to_rgba(width, height, channels, &samples[..frame.buffer_size()]);
    samples.zeroize();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_png(width: u32, height: u32, color: png::ColorType) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let channels = color.samples();
        let mut writer = encoder.write_header().expect("header");
        let data: Vec<u8> = (0..width * height * channels as u32)
            .map(|i| i as u8)
            .collect();
        writer.write_image_data(&data).expect("data");
        writer.finish().expect("finish");
        out
    }

    #[test]
    fn png_grey_and_rgb_become_rgba() {
        let grey = decode_png(&tiny_png(3, 2, png::ColorType::Grayscale)).expect("decodes");
        assert_eq!((grey.width, grey.height), (3, 2));
        assert_eq!(&grey.pixels[..8], &[0, 0, 0, 255, 1, 1, 1, 255]);
        let rgb = decode_png(&tiny_png(2, 2, png::ColorType::Rgb)).expect("decodes");
        assert_eq!(&rgb.pixels[..8], &[0, 1, 2, 255, 3, 4, 5, 255]);
    }

    #[test]
    fn fixture_face_photo_and_name_image_decode() {
        let face = decode_jpeg2000(include_bytes!("../../fixtures/images/face.jp2")).expect("jp2");
        assert_eq!((face.width, face.height), (120, 150));
        assert_eq!(face.pixels.len(), 120 * 150 * 4);
        // A real picture, not a flat fill: the decoder produced varied colours.
        let distinct: std::collections::HashSet<_> = face.pixels.chunks(4).collect();
        assert!(distinct.len() > 100, "{} colours", distinct.len());
        let name = decode_png(include_bytes!("../../fixtures/images/name.png")).expect("png");
        assert!(name.width > 0 && name.height > 0);
    }

    #[test]
    fn truncated_face_photo_fails_or_decodes_at_its_size() {
        // JPEG 2000 is progressive: a cut codestream may still decode, at lower quality. Either
        // way the answer is typed and the size is the declared one.
        let bytes = include_bytes!("../../fixtures/images/face.jp2");
        assert!(decode_jpeg2000(&bytes[..16]).is_err());
        for cut in (20..bytes.len()).step_by(97) {
            if let Ok(image) = decode_jpeg2000(&bytes[..cut]) {
                assert_eq!(image.pixels.len(), 120 * 150 * 4, "cut at {cut}");
            }
        }
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(decode_png(b"not a png"), Err(ImageError::Png(_))));
        assert!(matches!(
            decode_jpeg2000(b"\x00\x00\x00\x0CjP  garbage"),
            Err(ImageError::Jpeg2000(_))
        ));
    }

    #[test]
    fn debug_shows_only_the_size() {
        let image = RgbaImage {
            width: 2,
            height: 1,
            pixels: vec![9; 8],
        };
        assert_eq!(format!("{image:?}"), "RgbaImage(2x1)");
    }
}
