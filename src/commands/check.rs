//! `avatar check`: the preflight of `train`, without any network call, as a
//! per-photo report. Exit 0 when the set is trainable, 2 otherwise.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::CheckArgs;
use crate::exit::Failure;
use crate::photos::{self, Entry, Report, Source, Verdict};

pub async fn check(ctx: &Context, args: CheckArgs) -> Result<()> {
    let report = preflight(&args.images, true).await?;
    if ctx.printer.json {
        for entry in &report.entries {
            ctx.printer.json_line(entry)?;
        }
    } else {
        print_table(ctx, &report.entries)?;
    }
    if let Some(dir) = &args.save {
        let written = save_prepared(dir, &report.entries)?;
        ctx.printer.info(format!(
            "{written} prepared photo(s) written to {}",
            dir.display()
        ));
    }
    if !report.trainable() {
        return Err(refusal(&report, false).into());
    }
    let warned = report
        .entries
        .iter()
        .filter(|e| e.verdict == Verdict::Warning)
        .count();
    ctx.printer.info(format!(
        "{} photo(s): trainable{}",
        report.count,
        match (warned, report.duplicates) {
            (0, 0) => String::new(),
            (w, 0) => format!(" ({w} with warnings)"),
            (w, d) => format!(" ({w} with warnings, {d} duplicate(s) counted once)"),
        }
    ));
    Ok(())
}

/// Expands the arguments and checks every photo, off the async runtime.
pub async fn preflight(images: &[String], prepare: bool) -> Result<Report> {
    let images = images.to_vec();
    tokio::task::spawn_blocking(move || {
        let inputs = photos::expand(&images, &mut std::io::stdin().lock());
        photos::preflight(inputs, prepare)
    })
    .await
    .context("the photo check stopped unexpectedly")
}

/// The error for a set that cannot be trained on: every problem at once.
pub fn refusal(report: &Report, nothing_sent: bool) -> Failure {
    Failure::Usage(format!(
        "cannot train on these photos{}:\n  {}",
        if nothing_sent {
            " (nothing was sent)"
        } else {
            ""
        },
        report.problems().join("\n  ")
    ))
}

fn print_table(ctx: &Context, entries: &[Entry]) -> Result<()> {
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            [
                e.input.clone(),
                e.format.unwrap_or("-").to_string(),
                match (e.width, e.height) {
                    (Some(w), Some(h)) => format!("{w}x{h}"),
                    _ => "-".into(),
                },
                match e.format {
                    Some(_) => orientation_name(e.orientation),
                    None => "-",
                }
                .to_string(),
                verdict_name(e.verdict).to_string(),
                e.reasons.join("; "),
            ]
        })
        .collect();
    let header = [
        "PHOTO",
        "FORMAT",
        "SIZE",
        "ORIENTATION",
        "VERDICT",
        "REASON",
    ]
    .map(String::from);
    let mut widths = [0; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (width, cell) in widths.iter().zip(row) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        line.push_str(&row[5]);
        ctx.printer.data(line.trim_end())?;
    }
    Ok(())
}

fn orientation_name(exif: Option<u8>) -> &'static str {
    match exif {
        None | Some(1) => "upright",
        Some(2) => "mirrored",
        Some(3) => "rotated 180",
        Some(4) => "flipped",
        Some(5) => "transposed",
        Some(6) => "rotated 90",
        Some(7) => "transversed",
        Some(8) => "rotated 270",
        Some(_) => "unknown",
    }
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "ok",
        Verdict::Warning => "warning",
        Verdict::Duplicate => "duplicate",
        Verdict::Rejected => "rejected",
    }
}

/// Writes what would be uploaded, as `<file stem>.jpg`, to see it or time it.
fn save_prepared(dir: &Path, entries: &[Entry]) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut taken = HashSet::new();
    let mut written = 0;
    for entry in entries {
        let Some(Source::File(photo)) = &entry.source else {
            continue;
        };
        let stem = photo
            .path
            .file_stem()
            .map_or_else(|| "photo".into(), |s| s.to_string_lossy().into_owned());
        let mut name = format!("{stem}.jpg");
        for n in 2.. {
            if taken.insert(name.clone()) {
                break;
            }
            name = format!("{stem}-{n}.jpg");
        }
        let out: PathBuf = dir.join(&name);
        std::fs::write(&out, &photo.upload)
            .with_context(|| format!("cannot write {}", out.display()))?;
        written += 1;
    }
    Ok(written)
}
