//! Reference photos: every kind of file a user may hand over gets its
//! documented verdict before anything is sent, and what is uploaded is an
//! upright JPEG of at most 512 px that carries no metadata.

mod common;

use std::path::{Path, PathBuf};

use avatar::sandbox::Sandbox;
use common::*;
use serde_json::Value;

// ---------------------------------------------------------------- fixtures

/// A picture with detail, different for every `seed`: no two look alike.
fn picture(w: u32, h: u32, seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let cell = ((x * 7 / w) ^ (y * 5 / h)).wrapping_mul(seed * 37 + 11) ^ seed;
        let v = (cell.wrapping_mul(2_654_435_761) >> 24) as u8;
        image::Rgb([
            v,
            v.wrapping_add((x / 3) as u8),
            (y / 2) as u8 ^ (seed as u8),
        ])
    })
}

fn jpeg(
    picture: &image::RgbImage,
    setup: impl FnOnce(&mut jpeg_encoder::Encoder<&mut Vec<u8>>),
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    setup(&mut encoder);
    let (w, h) = (picture.width() as u16, picture.height() as u16);
    encoder
        .encode(picture.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// An EXIF block (TIFF, little endian): an orientation, a camera serial
/// number and a GPS position, as a phone writes them.
fn exif(orientation: u16) -> Vec<u8> {
    let mut t = b"II*\0\x08\0\0\0".to_vec();
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        t.extend(tag.to_le_bytes());
        t.extend(kind.to_le_bytes());
        t.extend(count.to_le_bytes());
        t.extend(value.to_le_bytes());
    };
    // IFD0 at 8: 3 entries, then the serial text and the GPS IFD.
    let serial_at = 8 + 2 + 3 * 12 + 4;
    let gps_at = serial_at + 12;
    t.extend(3u16.to_le_bytes());
    entry(&mut t, 0x0112, 3, 1, u32::from(orientation));
    entry(&mut t, 0xA431, 2, 12, serial_at); // BodySerialNumber
    entry(&mut t, 0x8825, 4, 1, gps_at); // GPSInfo
    t.extend(0u32.to_le_bytes());
    t.extend(b"SN-A1B2C3D4\0");
    t.extend(1u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0")); // GPSLatitudeRef
    t.extend(0u32.to_le_bytes());
    t
}

fn png(
    w: u32,
    h: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    data: &[u8],
    palette: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(color);
    encoder.set_depth(depth);
    if let Some(palette) = palette {
        encoder.set_palette(palette.to_vec());
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(data).unwrap();
    writer.finish().unwrap();
    out
}

/// Every kind of file the issue names, by the name it is saved under.
fn fixtures() -> Vec<(&'static str, Vec<u8>)> {
    // Stored landscape, left half red and right half blue; orientation 6
    // shows it turned a quarter clockwise: portrait, red on top.
    let halves = image::RgbImage::from_fn(800, 600, |x, y| {
        // Coarse light and shade, so it looks like no other fixture.
        let shade = (((x / 90) * 7 + (y / 70) * 13) % 5 * 12) as u8;
        if x < 400 {
            image::Rgb([200 + shade, 20, 20])
        } else {
            image::Rgb([20, 20, 200 + shade])
        }
    });
    let rotated = jpeg(&halves, |e| e.add_exif_metadata(&exif(6)).unwrap());
    let cmyk = {
        let mut out = Vec::new();
        let px: Vec<u8> = (0..600u32 * 600)
            .flat_map(|i| {
                let k = ((i % 600) / 70 * 11 + (i / 600) / 60 * 7) % 6 * 20;
                [0, 200, 200, k as u8]
            })
            .collect();
        jpeg_encoder::Encoder::new(&mut out, 90)
            .encode(&px, 600, 600, jpeg_encoder::ColorType::Cmyk)
            .unwrap();
        out
    };
    let progressive = jpeg(&picture(700, 560, 3), |e| e.set_progressive(true));
    let deep: Vec<u8> = picture(600, 600, 4)
        .pixels()
        .flat_map(|p| {
            p.0.into_iter()
                .flat_map(|c| (u16::from(c) * 257).to_be_bytes())
        })
        .collect();
    let deep = png(
        600,
        600,
        png::ColorType::Rgb,
        png::BitDepth::Sixteen,
        &deep,
        None,
    );
    // Opaque green square in the middle of a transparent frame.
    let alpha: Vec<u8> = (0..600u32 * 600)
        .flat_map(|i| {
            let (x, y) = (i % 600, i / 600);
            let inside = (150..450).contains(&x) && (150..450).contains(&y);
            if inside {
                [20, 200, 20, 255]
            } else {
                [0, 0, 0, 0]
            }
        })
        .collect();
    let alpha = png(
        600,
        600,
        png::ColorType::Rgba,
        png::BitDepth::Eight,
        &alpha,
        None,
    );
    let indices: Vec<u8> = (0..640u32 * 520)
        .map(|i| ((i % 640) / 80 + (i / 640) / 65) as u8 % 4)
        .collect();
    let palette = png(
        640,
        520,
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        &indices,
        Some(&[255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 250]),
    );
    let whole = jpeg(&picture(640, 640, 5), |_| {});
    let truncated = whole[..whole.len() / 2].to_vec();
    vec![
        ("rotated.jpg", rotated),
        ("cmyk.jpg", cmyk),
        ("progressive.jpg", progressive),
        ("deep.png", deep),
        ("alpha.png", alpha),
        ("palette.png", palette),
        ("фото été.jpg", jpeg(&picture(900, 700, 6), |_| {})),
        ("truncated.jpg", truncated),
        (
            "phone.jpg",
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0".to_vec(),
        ),
        ("web.webp", b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0".to_vec()),
        ("notes.jpg", b"shopping list: milk, eggs\n".to_vec()),
        ("empty.jpg", Vec::new()),
    ]
}

/// Writes `n` distinct good photos into `dir`; returns their paths.
/// Small (a warning, not a refusal) to keep the tests quick.
fn good_photos(dir: &Path, n: u32) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let path = dir.join(format!("good-{i:02}.jpg"));
            std::fs::write(&path, jpeg(&picture(160, 140, 100 + i), |_| {})).unwrap();
            path.display().to_string()
        })
        .collect()
}

fn write_all(dir: &Path, files: &[(&str, Vec<u8>)]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    files
        .iter()
        .map(|(name, bytes)| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

fn json_lines(output: &std::process::Output) -> Vec<Value> {
    stdout_lines(output)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The metadata and size rules for what is uploaded; returns the picture.
fn assert_clean_jpeg(bytes: &[u8]) -> image::RgbImage {
    assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
    let picture = image::load_from_memory(bytes).expect("decodes").to_rgb8();
    assert!(
        picture.width() <= 512 && picture.height() <= 512,
        "{:?}",
        picture.dimensions()
    );
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"Exif") && !has(&[0xFF, 0xE1]), "no EXIF segment");
    assert!(!has(b"SN-A1B2C3D4"), "no camera serial");
    picture
}

fn mean(picture: &image::RgbImage, rows: std::ops::Range<u32>) -> [u32; 3] {
    let mut sum = [0u64; 3];
    let mut n = 0;
    for y in rows {
        for x in 0..picture.width() {
            for (total, c) in sum.iter_mut().zip(picture.get_pixel(x, y).0) {
                *total += u64::from(c);
            }
            n += 1;
        }
    }
    sum.map(|s| (s / n) as u32)
}

// ------------------------------------------------------------------- tests

#[test]
fn every_kind_of_file_gets_its_verdict_in_one_pass() {
    let env = Env::new();
    let dir = env.path("mixed");
    write_all(&dir, &fixtures());
    std::fs::copy(
        dir.join("progressive.jpg"),
        dir.join("progressive~copy.jpg"),
    )
    .unwrap();
    let output = env
        .avatar()
        .args(["--json", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_code(&output, 2);
    let lines = json_lines(&output);
    let verdict = |name: &str| {
        let line = lines
            .iter()
            .find(|l| l["input"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} is reported"));
        (
            line["verdict"].as_str().unwrap().to_string(),
            line["reasons"].to_string(),
            line.clone(),
        )
    };
    for good in [
        "rotated.jpg",
        "cmyk.jpg",
        "progressive.jpg",
        "deep.png",
        "alpha.png",
        "palette.png",
        "фото été.jpg",
    ] {
        let (v, why, _) = verdict(good);
        assert_eq!(v, "ok", "{good}: {why}");
    }
    let (_, _, rotated) = verdict("rotated.jpg");
    assert_eq!(
        (
            rotated["width"].as_u64(),
            rotated["height"].as_u64(),
            rotated["orientation"].as_u64()
        ),
        (Some(600), Some(800), Some(6))
    );
    for (bad, reason) in [
        ("truncated.jpg", "truncated or corrupt"),
        ("phone.jpg", "HEIC/HEIF is not accepted: convert it to JPG"),
        ("web.webp", "WebP is not accepted: convert it to JPG"),
        ("notes.jpg", "not an image"),
        ("empty.jpg", "the file is empty"),
    ] {
        let (v, why, _) = verdict(bad);
        assert_eq!(v, "rejected", "{bad}");
        assert!(why.contains(reason), "{bad}: {why}");
    }
    let (v, why, _) = verdict("progressive~copy.jpg");
    assert_eq!(v, "duplicate");
    assert!(why.contains("progressive.jpg"), "{why}");
    // The human summary names every problem at once.
    let err = stderr(&output);
    for bad in [
        "truncated.jpg",
        "phone.jpg",
        "web.webp",
        "notes.jpg",
        "empty.jpg",
    ] {
        assert!(err.contains(bad), "{bad} in {err}");
    }
}

#[test]
fn prepared_photos_are_upright_small_and_carry_no_metadata() {
    let env = Env::new();
    let files: Vec<_> = fixtures().into_iter().take(7).collect();
    let paths = write_all(&env.path("good"), &files);
    let out = env.path("prepared");
    let output = env
        .avatar()
        .arg("check")
        .args(&paths)
        .arg("--save")
        .arg(&out)
        .output()
        .unwrap();
    assert_code(&output, 0);
    assert!(
        stdout(&output).contains("rotated 90"),
        "{}",
        stdout(&output)
    );
    for (name, _) in &files {
        let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
        let bytes = std::fs::read(out.join(format!("{stem}.jpg"))).unwrap();
        assert_clean_jpeg(&bytes);
    }
    let rotated = assert_clean_jpeg(&std::fs::read(out.join("rotated.jpg")).unwrap());
    assert_eq!(
        rotated.dimensions(),
        (384, 512),
        "turned upright, fitted to 512"
    );
    let (top, bottom) = (mean(&rotated, 0..200), mean(&rotated, 312..512));
    assert!(top[0] > 180 && top[2] < 60, "red on top: {top:?}");
    assert!(
        bottom[2] > 180 && bottom[0] < 60,
        "blue at the bottom: {bottom:?}"
    );
    // CMYK comes out in the colours other decoders show.
    let cmyk_in = image::load_from_memory(&files[1].1).unwrap().to_rgb8();
    let cmyk_out = assert_clean_jpeg(&std::fs::read(out.join("cmyk.jpg")).unwrap());
    let (a, b) = (mean(&cmyk_in, 0..600), mean(&cmyk_out, 0..512));
    assert!((0..3).all(|c| a[c].abs_diff(b[c]) < 12), "{a:?} vs {b:?}");
    // Transparency becomes white, not black.
    let alpha =
        assert_clean_jpeg(&std::fs::read(out.join("alpha.png".replace(".png", ".jpg"))).unwrap());
    assert!(
        alpha.get_pixel(5, 5).0.iter().all(|&c| c > 240),
        "{:?}",
        alpha.get_pixel(5, 5)
    );
}

#[test]
fn a_set_must_hold_5_to_30_distinct_photos() {
    let env = Env::new();
    let photos = good_photos(&env.path("set"), 31);
    for (n, code) in [(4, 2), (5, 0), (30, 0), (31, 2)] {
        let output = env
            .avatar()
            .arg("check")
            .args(&photos[..n])
            .output()
            .unwrap();
        assert_code(&output, code);
        if code == 2 {
            assert!(stderr(&output).contains(&format!("5 to 30 photos; {n} given")));
        }
        assert_eq!(
            stdout_lines(&output).len(),
            n + 1,
            "a header and a row per photo"
        );
    }
    // A copy is counted once: four photos and a copy are still four.
    let mut set = photos[..4].to_vec();
    set.push(photos[0].clone());
    let output = env.avatar().arg("check").args(&set).output().unwrap();
    assert_code(&output, 2);
    assert!(
        stderr(&output).contains("5 to 30 photos; 4 given (1 duplicate counted once)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn folders_and_a_list_on_stdin_are_expanded() {
    let env = Env::new();
    let photos = good_photos(&env.path("dir"), 3);
    std::fs::write(env.path("dir").join("README.txt"), "not a photo").unwrap();
    let more = good_photos(&env.path("more"), 5);
    let list = format!("{}\n\n{}\n", more[3], more[4]);
    let output = env
        .avatar()
        .args(["--json", "check"])
        .arg(env.path("dir"))
        .args(["-", &more[0]])
        .write_stdin(list)
        .output()
        .unwrap();
    assert_code(&output, 0);
    let inputs: Vec<String> = json_lines(&output)
        .iter()
        .map(|l| l["input"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = photos
        .iter()
        .chain([&more[3], &more[4], &more[0]])
        .cloned()
        .collect();
    assert_eq!(
        inputs, expected,
        "sorted folder, then stdin, then the file; README.txt skipped"
    );
    let output = env
        .avatar()
        .arg("check")
        .arg(env.path("nothing-here"))
        .arg(env.path("more"))
        .output()
        .unwrap();
    assert_code(&output, 2);
    std::fs::create_dir_all(env.path("empty-dir")).unwrap();
    let output = env
        .avatar()
        .arg("check")
        .arg(env.path("empty-dir"))
        .args(&more)
        .output()
        .unwrap();
    assert_code(&output, 2);
    assert!(
        stderr(&output).contains("has no JPG or PNG photos"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn train_never_uploads_a_set_that_fails_the_preflight() {
    let env = Env::new();
    let mut photos = good_photos(&env.path("p"), 6);
    let bad = write_all(&env.path("bad"), &[("notes.jpg", b"hello".to_vec())]);
    photos.push(bad[0].display().to_string());
    let output = env
        .sandbox()
        .args(["train", "--type", "couple"])
        .args(&photos)
        .output()
        .unwrap();
    assert_code(&output, 2);
    assert!(stderr(&output).contains("nothing was sent"));
    assert!(
        !env.sandbox_dir().join("uploads").exists(),
        "nothing uploaded"
    );
    assert_eq!(env.service_count("models"), 0);
    assert!(!env.state_path().exists());
}

#[test]
fn train_uploads_prepared_photos_and_records_them() {
    let env = Env::new();
    let dir = env.path("p");
    let files: Vec<_> = fixtures().into_iter().take(6).collect();
    write_all(&dir, &files);
    let output = env
        .sandbox()
        .args(["train", "--type", "woman", "--jobs", "3"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_code(&output, 0);
    let uploads: Vec<_> = std::fs::read_dir(env.sandbox_dir().join("uploads"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(uploads.len(), 6);
    for upload in &uploads {
        assert_clean_jpeg(&std::fs::read(upload).unwrap());
    }
    let images = env.state()["models"][0]["images"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(images.len(), 6);
    assert!(
        images[0]["source"].as_str().unwrap().ends_with("alpha.png"),
        "in folder order"
    );
    for image in &images {
        assert_eq!(image["sha256"].as_str().unwrap().len(), 64);
        assert!(image["uploaded_at"].is_string());
    }
    // --no-resize sends the files as they are.
    let output = env
        .sandbox()
        .args(["train", "--type", "woman", "--no-resize"])
        .args(good_photos(&env.path("q"), 5))
        .output()
        .unwrap();
    assert_code(&output, 0);
    let originals = std::fs::read(env.path("q").join("good-00.jpg")).unwrap();
    let sent = std::fs::read_dir(env.sandbox_dir().join("uploads"))
        .unwrap()
        .filter(|e| std::fs::read(e.as_ref().unwrap().path()).unwrap() == originals)
        .count();
    assert_eq!(sent, 1);
}

#[test]
fn a_second_training_reuses_uploads_that_are_still_served() {
    let env = Env::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = standalone_sandbox(&env, &runtime, None);
    let photos = good_photos(&env.path("p"), 5);
    let train = |kind: &str| {
        env.remote(&sandbox, "k")
            .args(["train", "--type", kind])
            .args(&photos)
            .output()
            .unwrap()
    };
    assert_code(&train("woman"), 0);
    let output = train("man");
    assert_code(&output, 0);
    assert!(
        stderr(&output).contains("5 photo(s) reused from an earlier upload, 0 uploaded"),
        "{}",
        stderr(&output)
    );
    let uploads = std::fs::read_dir(env.path("standalone").join("uploads"))
        .unwrap()
        .count();
    assert_eq!(uploads, 5, "nothing uploaded twice");
    let state = env.state();
    let urls = |m: usize| {
        state["models"][m]["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["url"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(urls(0), urls(1));
}

#[test]
fn the_sandbox_upload_endpoint_enforces_the_documented_limits() {
    let env = Env::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = standalone_sandbox(&env, &runtime, None);
    let url = format!("{}/upload", sandbox.upload_url());
    let send = |bytes: Vec<u8>| {
        runtime.block_on(async {
            let part = reqwest::multipart::Part::bytes(bytes).file_name("x.jpg");
            let response = reqwest::Client::new()
                .post(&url)
                .header("X-Picsart-API-Key", "k")
                .multipart(reqwest::multipart::Form::new().part("image", part))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        })
    };
    assert_eq!(send(jpeg(&picture(64, 64, 1), |_| {})).0, 200);
    let (status, body) = send(Vec::new());
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("empty"), "{body}");
    let (status, body) = send(b"plain text".to_vec());
    assert_eq!(status, 415, "{body}");
    let mut huge = jpeg(&picture(64, 64, 1), |_| {});
    huge.resize(100 * 1024 * 1024 + 1, 0);
    let (status, body) = send(huge);
    assert_eq!(status, 413, "{body}");
}

#[test]
fn uploads_are_kept_when_the_training_is_refused() {
    let env = Env::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broke = standalone_sandbox(&env, &runtime, Some(0.0));
    let paying = standalone_sandbox(&env, &runtime, None);
    let photos = good_photos(&env.path("p"), 5);
    let train = |sandbox: &Sandbox| {
        env.remote(sandbox, "k")
            .args(["train", "--type", "woman"])
            .args(&photos)
            .output()
            .unwrap()
    };
    assert_code(&train(&broke), 7);
    assert_eq!(env.state()["uploads"].as_array().unwrap().len(), 5);
    let output = train(&paying);
    assert_code(&output, 0);
    assert!(
        stderr(&output).contains("5 photo(s) reused"),
        "{}",
        stderr(&output)
    );
    let uploads = std::fs::read_dir(env.path("standalone").join("uploads"))
        .unwrap()
        .count();
    assert_eq!(uploads, 5, "nothing uploaded twice");
}
