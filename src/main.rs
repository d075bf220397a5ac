//! Parse, run, map the outcome to an exit code. Everything else is in the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use avatar::cli::Cli;
use avatar::exit::{self, Failure};
use avatar::printer::Printer;
use avatar::settings::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new(cli.global.json, cli.global.quiet, cli.global.verbose);
    let result = Settings::resolve(&cli.global).and_then(|settings| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let result = runtime.block_on(async {
            tokio::select! {
                result = avatar::commands::dispatch(cli.command, settings, printer) => result,
                // State writes are synchronous and atomic, so stopping at any
                // await point loses nothing recorded.
                _ = tokio::signal::ctrl_c() => Err(Failure::Interrupted.into()),
            }
        });
        runtime.shutdown_timeout(Duration::from_millis(200));
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if exit::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            printer.error(format!("{error:#}"));
            if let Some(hint) = exit::hint(&error) {
                printer.hint(hint);
            }
            ExitCode::from(exit::code(&error))
        }
    }
}
