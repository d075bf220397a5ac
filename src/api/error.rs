use std::fmt;

/// What went wrong talking to the API. Keeps the HTTP status, the service's own
/// text and the correlation id support asks for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401, or 403 on an API call: the key is missing or rejected.
    #[error("the API key was rejected ({0})")]
    Unauthorized(Reply),
    /// 402: nothing was spent.
    #[error("out of credits ({0})")]
    PaymentRequired(Reply),
    #[error("not found ({0})")]
    NotFound(Reply),
    /// Any other 4xx: the request itself was wrong.
    #[error("the service refused the request ({0})")]
    Rejected(Reply),
    /// 5xx or 429 that outlasted the retries.
    #[error("the service is in trouble ({0})")]
    Server(Reply),
    /// No answer at all, after the retries allowed for this request.
    #[error("could not reach {url}")]
    Network {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// A paid request may have reached the service but no answer came back: it
    /// may or may not have been accepted, so it is not retried.
    #[error(
        "no usable answer from {url} after the request was sent ({reason}); it may or may not have been accepted"
    )]
    Unconfirmed { url: String, reason: String },
    /// A 2xx whose body we cannot read.
    #[error("unexpected answer from {url}: {reason}; body: {body}")]
    Decode {
        url: String,
        reason: String,
        body: String,
    },
}

/// A non-success HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub message: String,
    pub correlation_id: Option<String>,
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)?;
        if let Some(id) = &self.correlation_id {
            write!(f, "; correlation id {id}")?;
        }
        Ok(())
    }
}

impl ApiError {
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Self::Unauthorized(r)
            | Self::PaymentRequired(r)
            | Self::NotFound(r)
            | Self::Rejected(r)
            | Self::Server(r) => Some(r),
            _ => None,
        }
    }
}
