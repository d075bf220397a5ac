use anyhow::Result;

use super::Context;
use crate::cli::SandboxCommand;
use crate::sandbox::Sandbox;
use crate::settings::sandbox_config;

/// `avatar sandbox serve`: the sandbox for curl, scripts and other clients.
pub async fn sandbox(ctx: &Context, command: SandboxCommand) -> Result<()> {
    let SandboxCommand::Serve { port } = command;
    let config = sandbox_config()?;
    let sandbox = Sandbox::start(config.clone(), port).await?;
    ctx.printer.data(sandbox.api_url())?;
    ctx.printer.info(format!(
        "sandbox API on {} (uploads: {}), jobs kept in {}, time {}x faster; any API key is accepted. Ctrl-C stops it.",
        sandbox.api_url(),
        sandbox.upload_url(),
        config.dir.display(),
        config.speed
    ));
    std::future::pending::<()>().await;
    Ok(())
}
