//! Progress reporting: the only module that draws bars. On a terminal each
//! job gets a live line, stacked with the download line in one
//! `MultiProgress`; elsewhere a single stderr line per change of status.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::api::types::JobStatus;
use crate::printer::Printer;

const TICK: Duration = Duration::from_millis(120);

/// The terminal's bar area: bars stack in it, and human lines are printed
/// above it rather than through a bar being drawn.
#[derive(Debug, Clone)]
pub struct Terminal {
    multi: MultiProgress,
}

impl Terminal {
    pub fn new() -> Self {
        Self {
            multi: MultiProgress::new(),
        }
    }

    pub fn println(&self, line: &str) {
        if self.multi.println(line).is_err() {
            eprintln!("{line}");
        }
    }

    fn add(&self, bar: ProgressBar) -> ProgressBar {
        let bar = self.multi.add(bar);
        bar.enable_steady_tick(TICK);
        bar
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

/// Live view of one training or inference while we wait for it.
pub struct JobProgress {
    bar: Option<ProgressBar>,
    printer: Printer,
    label: String,
    last_status: Mutex<Option<JobStatus>>,
    started: SystemTime,
    /// How long such a job usually takes, for an estimate when the service
    /// reports no percentage.
    typical: Duration,
}

impl JobProgress {
    pub fn new(printer: &Printer, label: String, started: SystemTime, typical: Duration) -> Self {
        let bar = printer.terminal.as_ref().map(|terminal| {
            terminal.add(
                ProgressBar::new(100)
                    .with_prefix(label.clone())
                    .with_style(style(
                        printer,
                        "{spinner:.cyan} {prefix} [{bar:30.cyan/blue}] {pos:>3}% {msg}",
                    )),
            )
        });
        Self {
            bar,
            printer: printer.clone(),
            label,
            last_status: Mutex::new(None),
            started,
            typical,
        }
    }

    pub fn update(&self, status: &JobStatus, progress: Option<f64>) {
        let elapsed = self.started.elapsed().unwrap_or_default();
        let percent = match (status, progress) {
            (JobStatus::Done, _) => 100.0,
            (_, Some(p)) => p.clamp(0.0, 100.0),
            // An estimate that never claims completion.
            _ => (elapsed.as_secs_f64() / self.typical.as_secs_f64() * 100.0).min(95.0),
        };
        if let Some(bar) = &self.bar {
            bar.set_position(percent as u64);
            bar.set_message(format!("{status}{}", eta(elapsed, percent, status)));
        }
        let mut last = self.last_status.lock().unwrap_or_else(|e| e.into_inner());
        if self.bar.is_none() && last.as_ref() != Some(status) {
            self.printer.info(format!("{}: {status}", self.label));
        }
        *last = Some(status.clone());
    }

    /// Replaces the live line with a last word that stays on screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            let last = self.last_status.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(status) = last.as_ref() {
                let elapsed = self.started.elapsed().unwrap_or_default();
                self.printer.info(format!(
                    "{}: {status} after {}",
                    self.label,
                    humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
                ));
            }
        }
    }
}

/// A bar style; its colours are dropped under `NO_COLOR`.
fn style(printer: &Printer, template: &str) -> ProgressStyle {
    let template = if printer.color {
        template.to_string()
    } else {
        template.replace(".cyan/blue", "").replace(":.cyan", "")
    };
    ProgressStyle::with_template(&template)
        .expect("valid template")
        .progress_chars("=> ")
}

fn eta(elapsed: Duration, percent: f64, status: &JobStatus) -> String {
    if status.is_terminal() || percent < 1.0 {
        return String::new();
    }
    let left = elapsed.as_secs_f64() * (100.0 - percent) / percent;
    format!(
        ", about {} left",
        humantime::format_duration(Duration::from_secs(left.ceil() as u64))
    )
}

/// Progress of a batch of files (photo uploads, avatar downloads): one
/// line with a count, and bytes when they are known.
pub struct BatchProgress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl BatchProgress {
    /// `what`: `uploading photos`, `downloading`…
    pub fn new(printer: &Printer, what: &str, files: usize) -> Self {
        let template =
            format!("{{spinner:.cyan}} {what} [{{bar:30.cyan/blue}}] {{pos}}/{{len}} {{msg}}");
        let bar = printer
            .terminal
            .as_ref()
            .filter(|_| files > 0)
            .map(|terminal| {
                terminal.add(ProgressBar::new(files as u64).with_style(style(printer, &template)))
            });
        Self {
            bar,
            started: Instant::now(),
        }
    }

    /// One more file done; a note replaces the line's message.
    pub fn done(&self, note: Option<String>) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if let Some(note) = note {
                bar.set_message(note);
            }
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
