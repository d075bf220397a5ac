//! What the user named on the command line, turned into a list of photos:
//! files, every image in a directory (sorted), `https://` URLs, and `-` for a
//! list on standard input. Nothing here reads a photo's content beyond a sniff.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// One photo to check, or a name that could not become one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Url(String),
    /// A name that is not a usable photo source, and why.
    Invalid {
        name: String,
        reason: String,
    },
}

impl Input {
    /// The name the user gave, for reports.
    pub fn name(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Url(url) => url.clone(),
            Self::Invalid { name, .. } => name.clone(),
        }
    }
}

/// File names a directory's photos are expected to have; any other file in a
/// directory is still taken when its first bytes say it is an image.
const IMAGE_EXTENSIONS: [&str; 12] = [
    "jpg", "jpeg", "jpe", "png", "heic", "heif", "avif", "webp", "gif", "tif", "tiff", "bmp",
];

/// Expands the arguments; `stdin` is read only when an argument is `-`.
pub fn expand(args: &[String], stdin: &mut dyn BufRead) -> Vec<Input> {
    let mut inputs = Vec::new();
    let mut stdin_read = false;
    for arg in args {
        if arg == "-" {
            if std::mem::replace(&mut stdin_read, true) {
                continue;
            }
            let mut text = String::new();
            match stdin.read_to_string(&mut text) {
                Ok(_) => {
                    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        expand_one(line, &mut inputs);
                    }
                }
                Err(e) => inputs.push(Input::Invalid {
                    name: "-".into(),
                    reason: format!("cannot read the list of photos on standard input: {e}"),
                }),
            }
        } else {
            expand_one(arg, &mut inputs);
        }
    }
    inputs
}

fn expand_one(arg: &str, inputs: &mut Vec<Input>) {
    if let Some((scheme, _)) = arg.split_once("://") {
        let invalid = |reason: &str| Input::Invalid {
            name: arg.to_string(),
            reason: reason.into(),
        };
        inputs.push(match reqwest::Url::parse(arg) {
            _ if !scheme.eq_ignore_ascii_case("https") => {
                invalid("only https:// URLs can be given to the service (or a local file)")
            }
            Ok(url) if url.host_str().is_some_and(|h| h.contains('.')) => {
                Input::Url(arg.to_string())
            }
            Ok(_) => invalid("not a public URL: it needs a host name like cdn.example.com"),
            Err(e) => invalid(&format!("not a valid URL ({e})")),
        });
        return;
    }
    let path = Path::new(arg);
    let invalid = |reason: String| Input::Invalid {
        name: arg.to_string(),
        reason,
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => match images_in(path) {
            Ok(found) if found.is_empty() => inputs.push(invalid(
                "the directory has no JPG or PNG photos in it".into(),
            )),
            Ok(found) => inputs.extend(found.into_iter().map(Input::File)),
            Err(e) => inputs.push(invalid(format!("cannot list the directory: {e}"))),
        },
        Ok(meta) if meta.is_file() => inputs.push(Input::File(path.to_path_buf())),
        Ok(_) => inputs.push(invalid("not a regular file".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            inputs.push(invalid("no such file or directory".into()))
        }
        Err(e) => inputs.push(invalid(format!("cannot read it: {e}"))),
    }
}

/// The images directly inside `dir`, sorted by name; hidden files are skipped.
fn images_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden || !entry.file_type()?.is_file() && !path.is_file() {
            continue;
        }
        let by_name = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if by_name || looks_like_image(&path) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

fn looks_like_image(path: &Path) -> bool {
    let mut head = [0u8; 32];
    let read = std::fs::File::open(path).and_then(|mut f| f.read(&mut head));
    matches!(read, Ok(n) if n > 0 && infer::is_image(&head[..n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_directories_urls_and_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let photos = dir.path().join("photos");
        std::fs::create_dir(&photos).unwrap();
        for name in ["b.JPG", "a.png", "notes.txt", ".hidden.jpg"] {
            std::fs::write(photos.join(name), b"x").unwrap();
        }
        std::fs::write(photos.join("noext"), b"\x89PNG\r\n\x1a\n....").unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let args = [
            photos.display().to_string(),
            "-".into(),
            empty.display().to_string(),
            "http://x/a.jpg".into(),
        ];
        let mut stdin = "https://cdn.example/x.jpg\n\n  missing.jpg \n".as_bytes();
        let inputs = expand(&args, &mut stdin);
        let names: Vec<String> = inputs.iter().map(Input::name).collect();
        let p = |n: &str| photos.join(n).display().to_string();
        assert_eq!(
            names,
            [
                p("a.png"),
                p("b.JPG"),
                p("noext"),
                "https://cdn.example/x.jpg".into(),
                "missing.jpg".into(),
                empty.display().to_string(),
                "http://x/a.jpg".into(),
            ]
        );
        assert!(matches!(inputs[3], Input::Url(_)));
        for invalid in &inputs[4..] {
            assert!(matches!(invalid, Input::Invalid { .. }), "{invalid:?}");
        }
    }
}
