//! Sending a request that costs money: recorded before it leaves, so that
//! an answer lost on the way (or a process killed while waiting) is known and
//! reported, never silently sent again.

use std::time::SystemTime;

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::Context;
use crate::api::ApiError;
use crate::state::{Attempt, State};

/// What is being bought, for the record and the messages.
pub struct Purchase<'a, R: Serialize> {
    pub what: &'static str,
    pub model_id: Option<&'a str>,
    pub pipeline: Option<&'a str>,
    pub request: &'a R,
}

/// Records the attempt, sends, and on an id calls `record` in the same state
/// update that drops the attempt, so the id is on disk before anything else.
pub async fn buy<R, Fut>(
    ctx: &Context,
    purchase: Purchase<'_, R>,
    send: impl FnOnce() -> Fut,
    record: impl FnOnce(&mut State, &str),
) -> Result<String>
where
    R: Serialize,
    Fut: std::future::Future<Output = Result<String, ApiError>>,
{
    let attempt = Attempt {
        id: format!("{:016x}", rand::random::<u64>()),
        what: purchase.what.to_string(),
        sent_at: SystemTime::now(),
        model_id: purchase.model_id.map(str::to_string),
        pipeline: purchase.pipeline.map(str::to_string),
        request: serde_json::to_value(purchase.request)?,
        unconfirmed: None,
    };
    let attempt_id = attempt.id.clone();
    ctx.state.update(|state| state.attempts.push(attempt))?;
    match send().await {
        Ok(id) => {
            ctx.state
                .update(|state| {
                    state.attempts.retain(|a| a.id != attempt_id);
                    record(state, &id);
                })
                .with_context(|| {
                    format!(
                        "{} {id} was created but could not be recorded: keep this id",
                        purchase.what
                    )
                })?;
            Ok(id)
        }
        Err(error @ ApiError::Unconfirmed { .. }) => {
            let reason = error.to_string();
            ctx.state.update(|state| {
                if let Some(a) = state.attempts.iter_mut().find(|a| a.id == attempt_id) {
                    a.unconfirmed = Some(reason);
                }
            })?;
            Err(error).with_context(|| {
                format!(
                    "the {} may or may not have started; it is listed by `avatar {}status` as unconfirmed",
                    purchase.what,
                    ctx.mode_flag()
                )
            })
        }
        Err(error) => {
            // A definite answer: nothing was created.
            ctx.state
                .update(|state| state.attempts.retain(|a| a.id != attempt_id))?;
            Err(error.into())
        }
    }
}
