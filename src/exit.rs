//! The exit-code contract (documented in the README) and the one place that
//! maps an error to its code.

use crate::api::ApiError;
use crate::credentials::CredentialsError;
use crate::durable::LockError;
use crate::state::{FindError, StateError};

pub const SUCCESS: u8 = 0;
pub const UNEXPECTED: u8 = 1;
pub const USAGE: u8 = 2;
pub const JOB_FAILED: u8 = 3;
pub const STILL_RUNNING: u8 = 4;
pub const EXPIRED: u8 = 5;
pub const AUTH: u8 = 6;
pub const NO_CREDITS: u8 = 7;
pub const STATE: u8 = 8;
pub const INTERRUPTED: u8 = 130;

/// Outcomes of a command that are not bugs nor transport errors.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Invalid input found locally: nothing was sent, nothing spent.
    #[error("{0}")]
    Usage(String),
    #[error("{what} {id} ended {status} on the service{}", advice.as_deref().map(|a| format!(": {a}")).unwrap_or_default())]
    JobFailed {
        what: &'static str,
        id: String,
        status: String,
        advice: Option<String>,
    },
    #[error(
        "{what} {id} is still running (stopped waiting after the timeout); it stays recorded. Resume with: {resume}"
    )]
    StillRunning {
        what: &'static str,
        id: String,
        resume: String,
    },
    #[error("the results of inference {id} have expired: the service deletes them 48 hours after they are ready{}", lost.map(|n| format!("; {n} avatar(s) were never downloaded")).unwrap_or_default())]
    Expired { id: String, lost: Option<usize> },
    #[error(
        "no API key: set PICSART_API_KEY or run `avatar auth login` (keys: https://console.picsart.io), or try everything for free with --sandbox"
    )]
    MissingKey,
    #[error(
        "interrupted; everything recorded so far is kept: run the same command again to resume"
    )]
    Interrupted,
    /// A paid request whose outcome is unknown blocks sending it again.
    #[error("{0}")]
    Unconfirmed(String),
}

/// The exit code for an error: the first cause in the chain that has one.
pub fn code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return match failure {
                Failure::Usage(_) => USAGE,
                Failure::JobFailed { .. } => JOB_FAILED,
                Failure::StillRunning { .. } => STILL_RUNNING,
                Failure::Expired { .. } => EXPIRED,
                Failure::MissingKey => AUTH,
                Failure::Interrupted => INTERRUPTED,
                Failure::Unconfirmed(_) => UNEXPECTED,
            };
        }
        if let Some(api) = cause.downcast_ref::<ApiError>() {
            return match api {
                ApiError::Unauthorized(_) => AUTH,
                ApiError::PaymentRequired(_) => NO_CREDITS,
                _ => UNEXPECTED,
            };
        }
        if cause.is::<StateError>() || cause.is::<LockError>() {
            return STATE;
        }
        if cause.is::<FindError>() {
            return USAGE;
        }
        if let Some(CredentialsError::Exposed { .. }) = cause.downcast_ref() {
            return AUTH;
        }
    }
    UNEXPECTED
}

/// What to do about an error whose own message cannot know the fix.
pub fn hint(error: &anyhow::Error) -> Option<&'static str> {
    error.chain().find_map(|cause| match cause.downcast_ref::<ApiError>()? {
        ApiError::Unauthorized(_) => {
            Some("check the key in PICSART_API_KEY (or try everything for free with --sandbox)")
        }
        ApiError::PaymentRequired(_) => Some("nothing was spent; top up your credits and run the same command again"),
        ApiError::Unconfirmed { .. } => Some(
            "it was not sent again, to avoid paying twice; check `avatar status` and your Picsart account before retrying",
        ),
        ApiError::Network { .. } | ApiError::Server(_) => {
            Some("everything recorded so far is kept; run the same command again later")
        }
        _ => None,
    })
}

/// A closed pipe on stdout (`avatar status | head`) is not an error.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
