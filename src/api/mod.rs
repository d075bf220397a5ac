//! The Picsart avatar API: wire types and a typed HTTP client. Knows nothing of
//! terminals, settings or the state file.

pub mod client;
pub mod error;
pub mod types;

pub use client::{ApiKey, Client, RetryObserver, RetryPolicy};
pub use error::{ApiError, Reply};
