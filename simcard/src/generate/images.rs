//! Synthetic card-face images: the face photo (JPEG 2000) and the name, address and security-code
//! images (PNG).
//!
//! They only need the right formats and realistic sizes: nobody has to recognise a face in them.
//! Text is drawn with a 3×5 digit font and, for every other character, a 5×5 pattern taken from
//! the character's SHA-256, so the images are plainly synthetic.

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::SimError;

pub const FACE_WIDTH: usize = 120;
pub const FACE_HEIGHT: usize = 150;
/// opj_compress compression ratio: 54,000 raw bytes at 16:1 gives a ~3.4 KB photo, the size the
/// brief's read-cost figures assume.
pub const FACE_RATE: &str = "16";

/// What tells two synthetic portraits apart.
#[derive(Debug, Clone, Copy)]
pub struct Portrait {
    pub hair: [f32; 3],
    pub skin: [f32; 3],
    pub clothes: [f32; 3],
    /// How far down the hair reaches, as a fraction of the height.
    pub hair_line: f32,
    pub seed: u32,
}

/// The holder's photo (`images/face.jp2`).
pub const HOLDER_PORTRAIT: Portrait = Portrait {
    hair: [45.0, 35.0, 30.0],
    skin: [228.0, 190.0, 160.0],
    clothes: [40.0, 55.0, 95.0],
    hair_line: 0.34,
    seed: 0x1234_5678,
};

/// Someone else's photo (`images/face-swapped.jp2`), which the tampered-face profile puts in
/// place of the holder's: a valid image, only the issuer signature does not cover it.
pub const SWAPPED_PORTRAIT: Portrait = Portrait {
    hair: [120.0, 80.0, 40.0],
    skin: [205.0, 160.0, 125.0],
    clothes: [110.0, 40.0, 40.0],
    hair_line: 0.38,
    seed: 0x0BAD_F00D,
};

/// A synthetic passport-style portrait: graded background, shoulders, head, hair, eyes, mouth,
/// plus a little deterministic texture so that the encoder has something real to do.
pub fn face_rgb(p: &Portrait) -> Vec<u8> {
    let (w, h) = (FACE_WIDTH as f32, FACE_HEIGHT as f32);
    let mut out = Vec::with_capacity(FACE_WIDTH * FACE_HEIGHT * 3);
    let mut noise: u32 = p.seed;
    for y in 0..FACE_HEIGHT {
        for x in 0..FACE_WIDTH {
            let (fx, fy) = (x as f32, y as f32);
            // xorshift: reproducible texture.
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let grain = (noise % 9) as f32 - 4.0;
            let inside = |cx: f32, cy: f32, rx: f32, ry: f32| {
                let (dx, dy) = ((fx - cx) / rx, (fy - cy) / ry);
                dx * dx + dy * dy <= 1.0
            };
            let head = inside(w * 0.5, h * 0.42, w * 0.24, h * 0.26);
            let hair = inside(w * 0.5, h * 0.33, w * 0.27, h * 0.22) && fy < h * p.hair_line;
            let eye = inside(w * 0.41, h * 0.42, 4.0, 2.5) || inside(w * 0.59, h * 0.42, 4.0, 2.5);
            let mouth = inside(w * 0.5, h * 0.57, 9.0, 2.0);
            let shoulders = inside(w * 0.5, h * 1.02, w * 0.48, h * 0.3);
            let neck = (fx - w * 0.5).abs() < w * 0.09 && fy > h * 0.6 && fy < h * 0.8;
            let shade = 1.0 - (fx - w * 0.45).abs() / w * 0.5;
            let rgb: [f32; 3] = if eye {
                [40.0, 30.0, 30.0]
            } else if mouth {
                [170.0, 80.0, 80.0]
            } else if hair {
                p.hair
            } else if head || neck {
                p.skin.map(|c| c * shade)
            } else if shoulders {
                p.clothes
            } else {
                [190.0 + fy * 0.2, 205.0 + fy * 0.15, 220.0]
            };
            out.extend(rgb.iter().map(|c| (c + grain).clamp(0.0, 255.0) as u8));
        }
    }
    out
}

/// Binary PPM (P6), the input opj_compress takes.
pub fn ppm(width: usize, height: usize, rgb: &[u8]) -> Vec<u8> {
    let mut out = format!("P6\n{width} {height}\n255\n").into_bytes();
    out.extend_from_slice(rgb);
    out
}

/// Encodes the face photo to JPEG 2000 (JP2 file format) with `opj_compress` (Debian package
/// libopenjp2-tools). The command line is printed in fixtures/README.md.
pub fn encode_face_jp2(work_dir: &Path, portrait: &Portrait, out: &Path) -> Result<(), SimError> {
    let input = work_dir.join("face.ppm");
    std::fs::write(&input, ppm(FACE_WIDTH, FACE_HEIGHT, &face_rgb(portrait)))
        .map_err(|e| SimError::io(&input, e))?;
    let status = Command::new("opj_compress")
        .arg("-i")
        .arg(&input)
        .arg("-o")
        .arg(out)
        .args(["-r", FACE_RATE])
        .output()
        .map_err(|e| {
            SimError::io(
                "opj_compress",
                format!("{e} (install Debian package libopenjp2-tools)"),
            )
        })?;
    if !status.status.success() {
        return Err(SimError::io(
            "opj_compress",
            String::from_utf8_lossy(&status.stderr),
        ));
    }
    Ok(())
}

const DIGITS: [[u8; 5]; 10] = [
    [0b111, 0b101, 0b101, 0b101, 0b111],
    [0b010, 0b110, 0b010, 0b010, 0b111],
    [0b111, 0b001, 0b111, 0b100, 0b111],
    [0b111, 0b001, 0b111, 0b001, 0b111],
    [0b101, 0b101, 0b111, 0b001, 0b001],
    [0b111, 0b100, 0b111, 0b001, 0b111],
    [0b111, 0b100, 0b111, 0b101, 0b111],
    [0b111, 0b001, 0b001, 0b001, 0b001],
    [0b111, 0b101, 0b111, 0b101, 0b111],
    [0b111, 0b101, 0b111, 0b001, 0b111],
];

/// A glyph as rows of bits, and its width in cells.
fn glyph(c: char) -> (Vec<u8>, usize) {
    if let Some(d) = c.to_digit(10) {
        return (DIGITS[d as usize].to_vec(), 3);
    }
    match c {
        '-' => (vec![0, 0, 0b111, 0, 0], 3),
        ' ' | '\u{3000}' => (vec![0; 5], 3),
        _ => {
            let mut buf = [0u8; 4];
            let digest = Sha256::digest(c.encode_utf8(&mut buf).as_bytes());
            // A 5×5 pattern with a full top row, so that every glyph visibly has ink.
            let rows = (0..5)
                .map(|r| if r == 0 { 0b11111 } else { digest[r] & 0b11111 })
                .collect();
            (rows, 5)
        }
    }
}

/// Renders `text` in black on white, `scale` pixels per glyph cell, as 8-bit grayscale.
pub fn render_text(text: &str, scale: usize) -> (usize, usize, Vec<u8>) {
    let glyphs: Vec<(Vec<u8>, usize)> = text.chars().map(glyph).collect();
    let margin = scale * 2;
    let cells: usize = glyphs.iter().map(|(_, w)| w + 1).sum();
    let width = cells * scale + 2 * margin;
    let height = 5 * scale + 2 * margin;
    let mut pixels = vec![255u8; width * height];
    let mut x0 = margin;
    for (rows, cols) in &glyphs {
        for (r, bits) in rows.iter().enumerate() {
            for c in 0..*cols {
                if bits >> (cols - 1 - c) & 1 == 1 {
                    for dy in 0..scale {
                        let y = margin + r * scale + dy;
                        let start = y * width + x0 + c * scale;
                        pixels[start..start + scale].fill(0);
                    }
                }
            }
        }
        x0 += (cols + 1) * scale;
    }
    (width, height, pixels)
}

/// A grayscale PNG of `text`.
pub fn text_png(text: &str, scale: usize) -> Result<Vec<u8>, SimError> {
    let (width, height, pixels) = render_text(text, scale);
    let mut out = Vec::new();
    let png_error = |e: png::EncodingError| SimError::Encoding(format!("PNG: {e}"));
    {
        let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Balanced);
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&pixels).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_in_ink_and_png_is_well_formed() {
        let (w, h, pixels) = render_text("1234", 2);
        assert_eq!(h, 5 * 2 + 8);
        assert_eq!(pixels.len(), w * h);
        assert!(pixels.contains(&0));
        let png = text_png("試験", 2).expect("encodes");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn face_is_deterministic() {
        assert_eq!(face_rgb(&HOLDER_PORTRAIT), face_rgb(&HOLDER_PORTRAIT));
        assert_ne!(face_rgb(&HOLDER_PORTRAIT), face_rgb(&SWAPPED_PORTRAIT));
        assert_eq!(
            face_rgb(&HOLDER_PORTRAIT).len(),
            FACE_WIDTH * FACE_HEIGHT * 3
        );
    }
}
