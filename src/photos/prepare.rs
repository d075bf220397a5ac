//! One photo: recognise it by its bytes, decode it for real, and make the
//! picture that is uploaded — upright, 8-bit RGB, fitting 512×512, a fresh
//! JPEG that carries no metadata (no GPS, no camera serial).
//!
//! Speed comes from decoding JPEGs at reduced size in the DCT domain (a 12 MP
//! phone photo is decoded straight to 1/4 size), a SIMD resizer for the rest,
//! and rotating the small picture rather than the large one.

use std::io::Cursor;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, RgbImage};
use jpeg_decoder::PixelFormat;

/// The API's recommended size: the prepared photo fits in a square this big.
pub const TARGET: u32 = 512;
/// JPEG quality of the prepared photo: high, since it is what the model learns from.
const QUALITY: u8 = 90;

/// The formats the service takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
        }
    }
}

/// A photo that decodes.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub format: Format,
    /// As displayed, after the EXIF orientation.
    pub width: u32,
    pub height: u32,
    /// The EXIF orientation (1 to 8) when the file has one.
    pub orientation: Option<u8>,
    /// The JPEG to upload, when asked to prepare one.
    pub prepared: Option<Vec<u8>>,
    /// A 64-bit difference hash of the upright picture, to spot near-duplicates.
    pub dhash: u64,
}

/// Why a file cannot be trained on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the file is empty")]
    Empty,
    #[error("{0} is not accepted: convert it to JPG")]
    Unsupported(&'static str),
    #[error("not an image (its content is neither JPEG nor PNG, whatever its name)")]
    NotAnImage,
    #[error("the {format} file is truncated or corrupt ({reason})")]
    Corrupt {
        format: &'static str,
        reason: String,
    },
}

/// Checks one file's bytes and, if `prepare`, makes the picture to upload.
/// Without `prepare` a JPEG is still decoded, at 1/8 size, to prove it is whole.
pub fn decode(bytes: &[u8], prepare: bool) -> Result<Decoded, Rejection> {
    if bytes.is_empty() {
        return Err(Rejection::Empty);
    }
    let format = sniff(bytes)?;
    let raw = match format {
        Format::Jpeg => decode_jpeg(bytes, prepare)?,
        Format::Png => decode_png(bytes)?,
    };
    let (width, height) = match raw.orientation {
        Some(o) if swaps(o) => (raw.stored.1, raw.stored.0),
        _ => raw.stored,
    };
    let mut small = DynamicImage::ImageRgb8(fit(raw.picture));
    if let Some(orientation) = raw.orientation {
        small.apply_orientation(orientation);
    }
    let small = small.into_rgb8();
    Ok(Decoded {
        format,
        width,
        height,
        orientation: raw.orientation.map(Orientation::to_exif),
        dhash: dhash(&small),
        prepared: prepare.then(|| encode(&small)),
    })
}

/// Recognises the file by its bytes, never by its name.
pub fn sniff(bytes: &[u8]) -> Result<Format, Rejection> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    let named = match infer::get(bytes).map(|t| t.mime_type()) {
        Some("image/heif" | "image/heic") => "HEIC/HEIF",
        Some("image/avif") => "AVIF",
        Some("image/webp") => "WebP",
        Some("image/gif") => "GIF",
        Some("image/tiff") => "TIFF",
        Some("image/bmp") => "BMP",
        Some("image/jxl") => "JPEG XL",
        Some(mime) if mime.starts_with("image/") => "this image format",
        _ => return Err(Rejection::NotAnImage),
    };
    Err(Rejection::Unsupported(named))
}

/// A decoded picture, possibly smaller than stored, before orientation.
struct Raw {
    picture: RgbImage,
    /// The size stored in the file.
    stored: (u32, u32),
    orientation: Option<Orientation>,
}

fn decode_jpeg(bytes: &[u8], prepare: bool) -> Result<Raw, Rejection> {
    let corrupt = |e: jpeg_decoder::Error| Rejection::Corrupt {
        format: "JPEG",
        reason: e.to_string(),
    };
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.read_info().map_err(corrupt)?;
    let info = decoder.info().expect("read_info succeeded");
    let stored = (u32::from(info.width), u32::from(info.height));
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .filter(|o| *o != Orientation::NoTransforms);
    // The fit box is square, so the stored size fits it as the upright one does.
    let (want_w, want_h) = if prepare {
        fit_size(stored.0, stored.1)
    } else {
        (1, 1)
    };
    let (w, h) = decoder
        .scale(want_w as u16, want_h as u16)
        .map_err(corrupt)?;
    let pixels = decoder.decode().map_err(corrupt)?;
    let rgb = match info.pixel_format {
        PixelFormat::RGB24 => pixels,
        PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|l| [l[0], l[0], l[0]])
            .collect(),
        // The decoder hands out CMYK with Adobe's inversion undone.
        PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|p| {
                let k = 255 - u32::from(p[3]);
                p[..3]
                    .iter()
                    .map(move |&c| ((255 - u32::from(c)) * k / 255) as u8)
            })
            .collect::<Vec<u8>>(),
    };
    let picture =
        RgbImage::from_raw(u32::from(w), u32::from(h), rgb).ok_or_else(|| Rejection::Corrupt {
            format: "JPEG",
            reason: "fewer pixels than its size says".into(),
        })?;
    Ok(Raw {
        picture,
        stored,
        orientation,
    })
}

fn decode_png(bytes: &[u8]) -> Result<Raw, Rejection> {
    let corrupt = |e: image::ImageError| Rejection::Corrupt {
        format: "PNG",
        reason: e.to_string(),
    };
    let mut decoder = image::codecs::png::PngDecoder::new(Cursor::new(bytes)).map_err(corrupt)?;
    let orientation = decoder
        .orientation()
        .ok()
        .filter(|o| *o != Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    let rgb = if image.color().has_alpha() {
        // Transparent parts become white, not the black of dropped alpha.
        let rgba = image.to_rgba8();
        RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
            let p = rgba.get_pixel(x, y).0;
            let a = u32::from(p[3]);
            image::Rgb(
                [p[0], p[1], p[2]]
                    .map(|c| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8),
            )
        })
    } else {
        image.to_rgb8()
    };
    Ok(Raw {
        stored: rgb.dimensions(),
        picture: rgb,
        orientation,
    })
}

/// Orientations that turn the picture a quarter: width and height swap.
fn swaps(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// The size that fits in TARGET×TARGET keeping the aspect; never larger.
pub fn fit_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= TARGET {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32| {
        ((u64::from(side) * u64::from(TARGET) + u64::from(long) / 2) / u64::from(long)).max(1)
            as u32
    };
    (scale(width), scale(height))
}

/// Downscales to fit TARGET×TARGET (Lanczos3, as vipsthumbnail does); never upscales.
fn fit(picture: RgbImage) -> RgbImage {
    let (w, h) = picture.dimensions();
    let (tw, th) = fit_size(w, h);
    if (tw, th) == (w, h) {
        return picture;
    }
    let src = Image::from_vec_u8(w, h, picture.into_raw(), PixelType::U8x3)
        .expect("buffer matches its size");
    let mut dst = Image::new(tw, th, PixelType::U8x3);
    Resizer::new()
        .resize(
            &src,
            &mut dst,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        )
        .expect("same pixel type on both sides");
    RgbImage::from_raw(tw, th, dst.into_vec()).expect("buffer matches its size")
}

/// A baseline JPEG with nothing but the picture: no EXIF, GPS, XMP or ICC.
fn encode(picture: &RgbImage) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    jpeg_encoder::Encoder::new(&mut out, QUALITY)
        .encode(
            picture.as_raw(),
            picture.width() as u16,
            picture.height() as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("a picture within 512 px always encodes");
    out
}

/// Difference hash: 9×8 grey cells, one bit per left-right comparison.
fn dhash(picture: &RgbImage) -> u64 {
    let grey = DynamicImage::ImageRgb8(picture.clone())
        .resize_exact(9, 8, image::imageops::FilterType::Triangle)
        .into_luma8();
    let mut hash = 0u64;
    for y in 0..8 {
        for x in 0..8 {
            let bit = grey.get_pixel(x, y).0[0] < grey.get_pixel(x + 1, y).0[0];
            hash = (hash << 1) | u64::from(bit);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_without_upscaling() {
        assert_eq!(fit_size(4032, 3024), (512, 384));
        assert_eq!(fit_size(3024, 4032), (384, 512));
        assert_eq!(fit_size(300, 200), (300, 200));
        assert_eq!(fit_size(10000, 10), (512, 1));
    }

    #[test]
    fn recognises_formats_by_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Ok(Format::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Ok(Format::Png));
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert_eq!(sniff(heic), Err(Rejection::Unsupported("HEIC/HEIF")));
        assert_eq!(
            sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Err(Rejection::Unsupported("WebP"))
        );
        assert_eq!(sniff(b"GIF89a..."), Err(Rejection::Unsupported("GIF")));
        assert_eq!(sniff(b"hello, world"), Err(Rejection::NotAnImage));
        assert_eq!(decode(b"", true).unwrap_err(), Rejection::Empty);
    }

    #[test]
    fn near_identical_pictures_hash_alike() {
        let a = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
        });
        let b = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4 + 3) as u8, (y * 5) as u8, 95])
        });
        let c = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([255 - (x * 4) as u8, (y * 5) as u8, 90])
        });
        assert!((dhash(&a) ^ dhash(&b)).count_ones() <= 4);
        assert!((dhash(&a) ^ dhash(&c)).count_ones() > 20);
    }
}
