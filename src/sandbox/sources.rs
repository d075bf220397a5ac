//! The images clients point the sandbox at: fetching them by URL, as the real
//! service does, and recognising their type by content rather than by name.

use std::net::IpAddr;
use std::time::Duration;

use futures_util::future::join_all;

use super::error::ApiError;

const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The image types the upload API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Tiff,
    Webp,
}

impl ImageKind {
    pub const ALL: [ImageKind; 4] = [Self::Jpeg, Self::Png, Self::Tiff, Self::Webp];

    /// Recognises a file by its magic bytes.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [b'I', b'I', 0x2A, 0x00, ..] | [b'M', b'M', 0x00, 0x2A, ..] => Some(Self::Tiff),
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Some(Self::Webp),
            _ => None,
        }
    }

    pub fn from_ext(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.ext() == ext)
    }

    pub fn ext(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Tiff => "tif",
            Self::Webp => "webp",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Tiff => "image/tiff",
            Self::Webp => "image/webp",
        }
    }
}

/// The extension a fetched file is stored under; unknown content is kept too,
/// because a training with an unusable photo must still be accepted.
pub fn ext_of(bytes: &[u8]) -> &'static str {
    ImageKind::sniff(bytes).map_or("bin", ImageKind::ext)
}

/// Whether the avatar service could use this photo: it decodes as JPEG or PNG.
pub fn decodes(bytes: &[u8]) -> bool {
    image::load_from_memory(bytes).is_ok()
}

/// HTTP GETs of source images.
pub struct Fetcher {
    /// For the sandbox's own URLs (the usual case: photos uploaded to it), which
    /// a system proxy from the environment could not reach.
    direct: reqwest::Client,
    /// For anything else, honouring the environment's proxy settings.
    proxied: reqwest::Client,
}

impl Fetcher {
    pub fn new() -> reqwest::Result<Self> {
        let builder = || reqwest::Client::builder().timeout(FETCH_TIMEOUT);
        Ok(Self {
            direct: builder().no_proxy().build()?,
            proxied: builder().build()?,
        })
    }

    /// The body of a 2xx answer to GET `url`, or why not.
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("only http and https URLs are supported".into());
        }
        let client = if is_loopback(&url) {
            &self.direct
        } else {
            &self.proxied
        };
        let response = client
            .get(url)
            .header(super::faults::INTERNAL_HEADER, "1")
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the server answered HTTP {status}"));
        }
        let body = response.bytes().await.map_err(describe)?;
        Ok(body.into())
    }

    /// Fetches all `urls` concurrently; the first failure becomes a 422 naming
    /// the image (from 1) and its URL.
    pub async fn get_images(&self, urls: &[String]) -> Result<Vec<Vec<u8>>, ApiError> {
        let fetches = urls.iter().enumerate().map(|(i, url)| async move {
            self.get(url).await.map_err(|why| {
                ApiError::invalid(format!(
                    "image {} ({url}) could not be fetched: {why}",
                    i + 1
                ))
            })
        });
        join_all(fetches).await.into_iter().collect()
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// reqwest's own message ("error sending request for url …") hides the cause
/// (connection refused, timeout, DNS); the whole chain says what to fix.
fn describe(error: reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
