//! The pictures the sandbox "generates": a user's own reference photo, cropped
//! to the service's 512×512 and given a look that depends on the style, so the
//! whole flow can be checked by eye without the real service.
//!
//! Rendering is deterministic: the same inputs always give the same bytes.

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageResult};

/// Side of a generated avatar, in pixels (the real service's size).
pub const SIZE: u32 = 512;

/// Renders avatar `n` (from 1) in `style` from one reference photo, as a JPEG.
pub fn avatar(reference: &[u8], style: &str, n: usize) -> ImageResult<Vec<u8>> {
    let photo = image::load_from_memory(reference)?;
    let square = crop_square(&photo, n).resize_exact(SIZE, SIZE, FilterType::Lanczos3);
    // A small brightness step (-6, 0, +6) so avatars of one style differ.
    let brightness = (n % 3) as i32 * 6 - 6;
    let styled = apply_style(square, style).brighten(brightness);
    let mut jpeg = Vec::new();
    DynamicImage::ImageRgb8(styled.to_rgb8())
        .write_with_encoder(JpegEncoder::new_with_quality(&mut jpeg, 90))?;
    Ok(jpeg)
}

/// A centred square, zoomed in a little more for each avatar (0–9%) so that
/// avatars drawn from the same photo are framed differently.
fn crop_square(photo: &DynamicImage, n: usize) -> DynamicImage {
    let (w, h) = (photo.width(), photo.height());
    let zoom_percent = 100 - 3 * ((n as u32).saturating_sub(1) % 4);
    let side = (w.min(h) * zoom_percent / 100).max(1);
    photo.crop_imm((w - side) / 2, (h - side) / 2, side, side)
}

fn apply_style(img: DynamicImage, style: &str) -> DynamicImage {
    let name = style.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if has(&["anime", "cartoon", "comic"]) {
        map_rgb(img, |c| posterise(saturate(c, 1.6)))
    } else if has(&["sketch", "pencil"]) {
        pencil(&img)
    } else if has(&["noir", "bw"]) {
        img.grayscale().adjust_contrast(45.0)
    } else if has(&["realistic"]) {
        map_rgb(img.adjust_contrast(12.0), |[r, g, b]| {
            [
                r.saturating_add(10),
                g.saturating_add(3),
                b.saturating_sub(10),
            ]
        })
    } else {
        img.huerotate(hue_of(&name))
    }
}

/// The classic pencil-sketch trick: a "colour dodge" of the photo by its own
/// blurred negative leaves flat areas white and draws dark lines at edges.
fn pencil(img: &DynamicImage) -> DynamicImage {
    let gray = img.to_luma8();
    let mut negative = DynamicImage::ImageLuma8(gray.clone());
    negative.invert();
    let blurred = negative.fast_blur(4.0).to_luma8();
    let mut sketch = gray;
    for (pixel, shade) in sketch.pixels_mut().zip(blurred.pixels()) {
        let dodged = pixel.0[0] as u32 * 255 / (255 - shade.0[0] as u32).max(1);
        pixel.0[0] = dodged.min(255) as u8;
    }
    DynamicImage::ImageLuma8(sketch)
}

fn map_rgb(img: DynamicImage, f: impl Fn([u8; 3]) -> [u8; 3]) -> DynamicImage {
    let mut rgb = img.to_rgb8();
    for pixel in rgb.pixels_mut() {
        pixel.0 = f(pixel.0);
    }
    DynamicImage::ImageRgb8(rgb)
}

/// Pushes each channel away from the pixel's luma by `factor`.
fn saturate([r, g, b]: [u8; 3], factor: f32) -> [u8; 3] {
    let luma = 0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32;
    [r, g, b].map(|c| (luma + (c as f32 - luma) * factor).clamp(0.0, 255.0) as u8)
}

/// Four flat levels per channel, the look of cel shading.
fn posterise(rgb: [u8; 3]) -> [u8; 3] {
    rgb.map(|c| c / 64 * 85)
}

/// A hue rotation (degrees) that is stable for a style name across runs and
/// Rust versions, unlike `std`'s hasher.
fn hue_of(name: &str) -> i32 {
    let hash = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
    (hash % 360) as i32
}
