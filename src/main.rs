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
        // The first Ctrl-C stops the command at its next await point (state
        // writes are synchronous and atomic, so nothing recorded is lost);
        // a second one exits at once.
        let (interrupted, on_interrupt) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = interrupted.send(());
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(exit::INTERRUPTED.into());
            }
        });
        let result = runtime.block_on(async {
            tokio::select! {
                result = avatar::commands::dispatch(cli.command, settings, printer.clone()) => result,
                Ok(()) = on_interrupt => Err(Failure::Interrupted.into()),
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
