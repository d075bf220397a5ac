//! Makes the benchmark's inputs: 30 phone-size photos (4032×3024 JPEG,
//! quality 92, 4:2:0), with photographic detail — fractal value noise for
//! shapes and light, plus per-pixel grain — so that each file weighs 2–5 MB
//! like a phone's. Every fifth photo is stored sideways with an EXIF
//! orientation, as phones do. Deterministic: the same bytes on every machine
//! (given Cargo.lock), so runs are comparable.
//!
//! `cargo run --release --example bench-photos-inputs -- DIR`

use std::path::PathBuf;

const WIDTH: u32 = 4032;
const HEIGHT: u32 = 3024;
const PHOTOS: u64 = 30;

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: bench-photos-inputs DIR"),
    );
    std::fs::create_dir_all(&dir).expect("create the output directory");
    let next = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..std::thread::available_parallelism().map_or(2, usize::from) {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= PHOTOS {
                        return;
                    }
                    let path = dir.join(format!("phone-{:02}.jpg", n + 1));
                    std::fs::write(&path, photo(n)).expect("write a photo");
                }
            });
        }
    });
}

fn photo(n: u64) -> Vec<u8> {
    let grain = 10.0 + (n % 4) as f32 * 2.0;
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    for (y, row) in rgb.chunks_exact_mut((WIDTH * 3) as usize).enumerate() {
        for x in 0..WIDTH as usize {
            for c in 0..3 {
                let (fx, fy) = (x as f32, y as f32);
                let mut v = 0.0;
                let (mut freq, mut amp) = (1.0 / 700.0, 0.5);
                for octave in 0..6 {
                    v +=
                        amp * value_noise(n * 1000 + c as u64 * 101 + octave, fx * freq, fy * freq);
                    freq *= 2.3;
                    amp *= 0.55;
                }
                let noise = hash(n << 48 ^ (y as u64) << 24 ^ (x as u64) << 2 ^ c as u64);
                let noise = (noise >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                row[x * 3 + c] = (v * 255.0 + noise * grain).clamp(0.0, 255.0) as u8;
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 92);
    let orientation = match n % 5 {
        0 => Some(6), // held upright: stored sideways, shown turned a quarter clockwise
        3 if n % 2 == 1 => Some(8),
        _ => None,
    };
    if let Some(orientation) = orientation {
        encoder
            .add_exif_metadata(&exif(orientation))
            .expect("small EXIF block");
    }
    encoder
        .encode(
            &rgb,
            WIDTH as u16,
            HEIGHT as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("encode");
    out
}

/// A minimal EXIF block (TIFF, little endian) with just the orientation.
fn exif(orientation: u16) -> Vec<u8> {
    let mut t = b"II*\0\x08\0\0\0\x01\0".to_vec();
    t.extend(0x0112u16.to_le_bytes());
    t.extend(3u16.to_le_bytes());
    t.extend(1u32.to_le_bytes());
    t.extend(u32::from(orientation).to_le_bytes());
    t.extend(0u32.to_le_bytes());
    t
}

fn hash(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn value_noise(seed: u64, x: f32, y: f32) -> f32 {
    let (xi, yi) = (x.floor() as i64, y.floor() as i64);
    let corner = |a: i64, b: i64| {
        let h = hash(
            seed ^ (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (b as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
        );
        (h >> 40) as f32 / (1u64 << 24) as f32
    };
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    let (sx, sy) = (smooth(x - x.floor()), smooth(y - y.floor()));
    let top = corner(xi, yi) + (corner(xi + 1, yi) - corner(xi, yi)) * sx;
    let bottom = corner(xi, yi + 1) + (corner(xi + 1, yi + 1) - corner(xi, yi + 1)) * sx;
    top + (bottom - top) * sy
}
