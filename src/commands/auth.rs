use std::io::{IsTerminal, Read};

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::AuthCommand;
use crate::credentials;
use crate::exit::Failure;

/// `avatar auth login|logout`: the key kept in the config directory.
pub async fn auth(ctx: &Context, command: AuthCommand) -> Result<()> {
    let path = credentials::path()?;
    match command {
        AuthCommand::Login => {
            let key = if std::io::stdin().is_terminal() {
                rpassword::prompt_password("Picsart API key (input hidden): ")
                    .context("cannot read the key from the terminal")?
            } else {
                let mut key = String::new();
                std::io::stdin()
                    .read_to_string(&mut key)
                    .context("cannot read the key from standard input")?;
                key
            };
            let key = key.trim();
            if key.is_empty() || key.chars().any(char::is_whitespace) {
                return Err(Failure::Usage(
                    "that is not an API key (empty, or with spaces inside); nothing was stored"
                        .into(),
                )
                .into());
            }
            credentials::store(&path, key)?;
            ctx.printer.info(format!(
                "key stored in {} (readable by you only); PICSART_API_KEY, when set, takes precedence",
                path.display()
            ));
        }
        AuthCommand::Logout => {
            if credentials::remove(&path)? {
                ctx.printer.info(format!("removed {}", path.display()));
            } else {
                ctx.printer.info("no stored key to remove");
            }
        }
    }
    Ok(())
}
