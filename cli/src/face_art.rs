//! Shows the card-face photo and name image in a true-colour terminal, from memory: two pixels per
//! character cell (upper half block), so the courier or clerk can compare without a file ever
//! being written.

use honnin_core::image::RgbaImage;

/// Renders `image` scaled to at most `columns` characters wide.
pub fn render(image: &RgbaImage, columns: u32) -> String {
    let width = image.width.max(1);
    let scale = (width as f32 / columns.max(1) as f32).max(1.0);
    let out_w = ((width as f32) / scale) as u32;
    let out_h = ((image.height as f32) / scale) as u32;
    let pixel = |x: u32, y: u32| -> [u8; 3] {
        let sx = ((x as f32 * scale) as u32).min(image.width.saturating_sub(1));
        let sy = ((y as f32 * scale) as u32).min(image.height.saturating_sub(1));
        let i = ((sy * image.width + sx) * 4) as usize;
        match image.pixels.get(i..i + 3) {
            Some([r, g, b]) => [*r, *g, *b],
            _ => [0, 0, 0],
        }
    };
    let mut out = String::new();
    for row in (0..out_h).step_by(2) {
        for x in 0..out_w {
            let [r1, g1, b1] = pixel(x, row);
            let [r2, g2, b2] = pixel(x, (row + 1).min(out_h.saturating_sub(1)));
            out.push_str(&format!(
                "\x1b[38;2;{r1};{g1};{b1}m\x1b[48;2;{r2};{g2};{b2}m▀"
            ));
        }
        out.push_str("\x1b[0m\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_rows_per_line_and_colours_from_the_image() {
        let image = RgbaImage {
            width: 2,
            height: 2,
            pixels: vec![255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 9, 9, 9, 255],
        };
        let art = render(&image, 2);
        assert_eq!(art.lines().count(), 1);
        assert!(art.contains("38;2;255;0;0m\x1b[48;2;0;0;255m▀"), "{art:?}");
    }
}
