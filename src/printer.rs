//! Where output goes, decided once at start-up: results on stdout (plain lines
//! or JSON), everything for humans on stderr, colour only on a terminal
//! without `NO_COLOR`, progress bars only on a terminal.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;

use crate::progress::Terminal;

#[derive(Debug, Clone)]
pub struct Printer {
    pub json: bool,
    quiet: bool,
    verbose: bool,
    pub color: bool,
    /// Where bars are drawn, when they are (stderr is a terminal and not
    /// quiet); human lines then go above the bars instead of through them.
    pub terminal: Option<Terminal>,
}

impl Printer {
    pub fn new(json: bool, quiet: bool, verbose: bool) -> Self {
        let tty = io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            json,
            quiet,
            verbose: verbose && !quiet,
            color: tty && !no_color,
            terminal: (tty && !quiet).then(Terminal::new),
        }
    }

    fn human(&self, line: String) {
        match &self.terminal {
            Some(terminal) => terminal.println(&line),
            None => eprintln!("{line}"),
        }
    }

    /// A result line on stdout (an id, a path, a table row).
    pub fn data(&self, line: impl std::fmt::Display) -> io::Result<()> {
        writeln!(io::stdout().lock(), "{line}")
    }

    /// One JSON object per line on stdout.
    pub fn json_line(&self, value: &impl Serialize) -> io::Result<()> {
        let line = serde_json::to_string(value).map_err(io::Error::other)?;
        self.data(line)
    }

    /// Human text: progress notes, hints.
    pub fn info(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            self.human(message.to_string());
        }
    }

    /// Shown with `-v` only.
    pub fn detail(&self, message: impl std::fmt::Display) {
        if self.verbose {
            self.human(self.paint("2", &message.to_string()));
        }
    }

    pub fn warn(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            self.human(format!("{} {message}", self.paint("33;1", "warning:")));
        }
    }

    /// Errors are printed even with `--quiet`.
    pub fn error(&self, message: impl std::fmt::Display) {
        self.human(format!("{} {message}", self.paint("31;1", "error:")));
    }

    /// What to do next, after an error; shown even with `--quiet`.
    pub fn hint(&self, message: impl std::fmt::Display) {
        self.human(format!("{} {message}", self.paint("36;1", "hint:")));
    }

    fn paint(&self, sgr: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{sgr}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}
