//! Draws the sample portraits in `examples/photos/`: simple faces with varied
//! pose, light and background, so the sandbox has something to turn into
//! avatars. Run with `cargo run --example make_photos`.

use image::{Rgb, RgbImage};

const SIZE: u32 = 640;
const COUNT: u32 = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/photos");
    std::fs::create_dir_all(&dir)?;
    for n in 0..COUNT {
        let path = dir.join(format!("portrait-{}.jpg", n + 1));
        let file = std::fs::File::create(&path)?;
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(file, 85);
        portrait(n).write_with_encoder(encoder)?;
        println!("{}", path.display());
    }
    Ok(())
}

fn portrait(n: u32) -> RgbImage {
    let t = n as f32 / COUNT as f32;
    let background = [
        Rgb([90 + (120.0 * t) as u8, 140, 200 - (100.0 * t) as u8]),
        Rgb([230, 220 - (80.0 * t) as u8, 180 + (40.0 * t) as u8]),
    ];
    let skin = Rgb([
        224 - (n * 4) as u8,
        182 - (n * 3) as u8,
        150 - (n * 2) as u8,
    ]);
    let hair = Rgb([60 + (n * 12) as u8, 40 + (n * 5) as u8, 25]);
    let shirt = Rgb([40 + (n * 25) as u8, 80, 160 - (n * 10) as u8]);
    // Head position and tilt vary like a real photo set.
    let cx = SIZE as f32 * (0.45 + 0.1 * ((n as f32 * 1.7).sin()));
    let cy = SIZE as f32 * 0.42;
    let tilt = (n as f32 * 0.9).sin() * 0.15;
    RgbImage::from_fn(SIZE, SIZE, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        // Rotate around the head's centre.
        let (dx, dy) = (fx - cx, fy - cy);
        let (rx, ry) = (
            dx * tilt.cos() + dy * tilt.sin(),
            -dx * tilt.sin() + dy * tilt.cos(),
        );
        let inside = |ex: f32, ey: f32, ax: f32, ay: f32| {
            ((rx - ex) / ax).powi(2) + ((ry - ey) / ay).powi(2) <= 1.0
        };
        let light = 1.0 - 0.25 * (rx / 120.0 + 0.3).clamp(-1.0, 1.0) * (0.5 + t);
        let shade = |c: Rgb<u8>| Rgb(c.0.map(|v| (v as f32 * light).clamp(0.0, 255.0) as u8));
        if inside(-28.0, -12.0, 11.0, 7.0) || inside(28.0, -12.0, 11.0, 7.0) {
            if inside(-28.0, -12.0, 5.0, 5.0) || inside(28.0, -12.0, 5.0, 5.0) {
                Rgb([30, 30, 40])
            } else {
                Rgb([245, 245, 240])
            }
        } else if inside(0.0, 40.0, 26.0, 7.0 + n as f32) && ry > 38.0 {
            Rgb([170, 60, 70])
        } else if inside(0.0, -40.0, 80.0, 60.0) && ry < -30.0 {
            shade(hair)
        } else if inside(0.0, 0.0, 70.0, 92.0) {
            shade(skin)
        } else if fy > cy + 110.0 && (fx - cx).abs() < 150.0 - (fy - cy - 110.0) * -0.8 {
            shade(shirt)
        } else {
            // A soft gradient with a little texture and a different room
            // behind each photo, so no two look alike.
            let g = fy / SIZE as f32;
            let stripe = ((fx * (0.01 + 0.004 * n as f32) + fy * 0.006 * (n % 3) as f32).sin()
                * 40.0) as i32;
            let noise = ((x * 7919 + y * 104729 + n * 31) % 17) as f32 - 8.0;
            Rgb(std::array::from_fn(|i| {
                let a = background[0].0[i] as f32;
                let b = background[1].0[i] as f32;
                (a + (b - a) * g + noise + stripe as f32 * (i as f32 - 1.0)).clamp(0.0, 255.0) as u8
            }))
        }
    })
}
