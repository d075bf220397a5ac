//! Reference photos: the local preflight that runs before anything is uploaded
//! or spent. Every file is decoded for real, problems are collected for the
//! whole set in one pass, and each good photo is prepared for upload.

mod inputs;
mod prepare;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::api::types::{MAX_IMAGES, MIN_IMAGES};
pub use inputs::{Input, expand};
pub use prepare::{Format, Rejection, TARGET, decode, fit_size};

/// Photos smaller than this on their short side train worse.
const SMALL_SIDE: u32 = 512;
/// Longer side over shorter side beyond which a photo is called extreme.
const EXTREME_ASPECT: f64 = 2.0;
/// Differing bits (of 64) under which two photos look the same.
const NEAR_DUPLICATE_BITS: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Usable as it is.
    Ok,
    /// Usable, but it may hurt the training.
    Warning,
    /// The same content as an earlier photo: counted once.
    Duplicate,
    /// Not usable: the set cannot be trained on until it is replaced.
    Rejected,
}

/// What the preflight found about one photo.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The file or URL as named by the user (or found in a directory).
    pub input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    /// As displayed, after the EXIF orientation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The EXIF orientation (1 to 8), when the file has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u8>,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    /// Of the file's content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip)]
    pub source: Option<Source>,
    #[serde(skip)]
    dhash: Option<u64>,
}

/// Where a usable photo goes next.
#[derive(Debug, Clone)]
pub enum Source {
    Url(String),
    File(Photo),
}

/// A local photo that passed the preflight.
#[derive(Debug, Clone)]
pub struct Photo {
    pub path: PathBuf,
    /// Of the file's content.
    pub sha256: String,
    /// What to upload: the prepared JPEG, or the original with `--no-resize`.
    pub upload: Vec<u8>,
    /// The format of `upload`.
    pub format: Format,
}

/// The verdict on a whole set.
#[derive(Debug, Clone)]
pub struct Report {
    pub entries: Vec<Entry>,
    /// Distinct photos (duplicates counted once).
    pub count: usize,
    pub duplicates: usize,
    problems: Vec<String>,
}

impl Report {
    /// Whether the service would get a set it accepts.
    pub fn trainable(&self) -> bool {
        self.problems.is_empty()
    }

    /// Everything that stops the set, one line each, all at once.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// What is usable but worth knowing, one line each.
    pub fn warnings(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| matches!(e.verdict, Verdict::Warning | Verdict::Duplicate))
            .map(|e| format!("{}: {}", e.input, e.reasons.join("; ")))
            .collect()
    }

    /// The photos to send, in order, duplicates left out.
    pub fn sources(self) -> Vec<Source> {
        self.entries
            .into_iter()
            .filter(|e| matches!(e.verdict, Verdict::Ok | Verdict::Warning))
            .filter_map(|e| e.source)
            .collect()
    }
}

/// Checks every input (on all cores) and the set as a whole. With `prepare`,
/// each file gets its upright 512-px JPEG; without, its original bytes.
pub fn preflight(inputs: Vec<Input>, prepare: bool) -> Report {
    let mut entries = check_all(&inputs, prepare);
    let duplicates = mark_duplicates(&mut entries);
    mark_near_duplicates(&mut entries);
    let count = entries.len() - duplicates;
    let mut problems: Vec<String> = entries
        .iter()
        .filter(|e| e.verdict == Verdict::Rejected)
        .map(|e| format!("{}: {}", e.input, e.reasons.join("; ")))
        .collect();
    if !(MIN_IMAGES..=MAX_IMAGES).contains(&count) {
        let counted_once = match duplicates {
            0 => String::new(),
            n => format!(" ({n} duplicate{} counted once)", plural(n)),
        };
        problems.push(format!(
            "a training takes {MIN_IMAGES} to {MAX_IMAGES} photos; {count} given{counted_once}"
        ));
    }
    Report {
        entries,
        count,
        duplicates,
        problems,
    }
}

fn check_all(inputs: &[Input], prepare: bool) -> Vec<Entry> {
    let workers = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .min(inputs.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, Entry)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = inputs.get(i) else {
                            return mine;
                        };
                        mine.push((i, check_one(input, prepare)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a photo check panicked"))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, entry)| entry).collect()
}

fn check_one(input: &Input, prepare: bool) -> Entry {
    let mut entry = Entry {
        input: input.name(),
        format: None,
        width: None,
        height: None,
        orientation: None,
        verdict: Verdict::Ok,
        reasons: Vec::new(),
        sha256: None,
        source: None,
        dhash: None,
    };
    let path = match input {
        Input::Invalid { reason, .. } => return entry.rejected(reason.clone()),
        Input::Url(url) => {
            entry.source = Some(Source::Url(url.clone()));
            entry
                .reasons
                .push("a URL: the service fetches and checks it".into());
            return entry;
        }
        Input::File(path) => path,
    };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return entry.rejected(format!("cannot read it: {e}")),
    };
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if !bytes.is_empty() {
        entry.sha256 = Some(sha256.clone());
    }
    let decoded = match decode(&bytes, prepare) {
        Ok(decoded) => decoded,
        Err(rejection) => {
            if let Rejection::Corrupt { format, .. } = &rejection {
                entry.format = Some(format);
            }
            return entry.rejected(rejection.to_string());
        }
    };
    let (w, h) = (decoded.width, decoded.height);
    entry.format = Some(decoded.format.name());
    (entry.width, entry.height) = (Some(w), Some(h));
    entry.orientation = decoded.orientation;
    entry.dhash = Some(decoded.dhash);
    if w.min(h) < SMALL_SIDE {
        entry.warn(format!(
            "small ({w}×{h}): photos of at least {SMALL_SIDE} px on the short side train better"
        ));
    }
    if f64::from(w.max(h)) > EXTREME_ASPECT * f64::from(w.min(h)) {
        entry.warn(format!(
            "extreme aspect ratio ({w}×{h}): the face may end up small or cut off"
        ));
    }
    entry.source = Some(Source::File(Photo {
        path: path.clone(),
        sha256,
        upload: decoded.prepared.unwrap_or(bytes),
        format: if prepare {
            Format::Jpeg
        } else {
            decoded.format
        },
    }));
    entry
}

impl Entry {
    fn rejected(mut self, reason: String) -> Self {
        self.verdict = Verdict::Rejected;
        self.reasons.push(reason);
        self
    }

    fn warn(&mut self, reason: String) {
        if self.verdict == Verdict::Ok {
            self.verdict = Verdict::Warning;
        }
        self.reasons.push(reason);
    }

    /// Same content: the file's hash, or the URL itself.
    fn identity(&self) -> Option<String> {
        match self.source.as_ref()? {
            Source::Url(url) => Some(url.clone()),
            Source::File(photo) => Some(photo.sha256.clone()),
        }
    }
}

/// Later copies of the same content are counted once; returns how many.
fn mark_duplicates(entries: &mut [Entry]) -> usize {
    let mut first: HashMap<String, String> = HashMap::new();
    let mut duplicates = 0;
    for entry in entries.iter_mut() {
        let Some(identity) = entry.identity() else {
            continue;
        };
        match first.get(&identity) {
            Some(original) => {
                entry.verdict = Verdict::Duplicate;
                entry.reasons = vec![format!("the same photo as {original}: counted once")];
                entry.source = None;
                duplicates += 1;
            }
            None => {
                first.insert(identity, entry.input.clone());
            }
        }
    }
    duplicates
}

/// Different files showing almost the same picture teach the model little.
fn mark_near_duplicates(entries: &mut [Entry]) {
    for i in 1..entries.len() {
        let Some(hash) = entries[i]
            .dhash
            .filter(|_| entries[i].verdict != Verdict::Duplicate)
        else {
            continue;
        };
        let twin = entries[..i].iter().find(|e| {
            e.verdict != Verdict::Duplicate
                && e.dhash
                    .is_some_and(|h| (h ^ hash).count_ones() <= NEAR_DUPLICATE_BITS)
        });
        if let Some(twin) = twin.map(|t| t.input.clone()) {
            entries[i].warn(format!(
                "looks almost the same as {twin}: varied photos train better"
            ));
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
