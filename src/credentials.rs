//! The API key at rest: one file in the user's config directory, private to
//! the user (0600), written by `avatar auth login` and read when
//! `PICSART_API_KEY` is not set. The only module that touches that file.

use std::io;
use std::path::{Path, PathBuf};

use crate::durable::write_atomic;

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot find your config directory; set PICSART_API_KEY instead")]
    NoConfigDir,
    #[error(
        "{path} is readable by other users (mode {mode:o}); the key in it is not used. Run `chmod 600 {path}`, or `avatar auth login` again"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("cannot read {path}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {path}")]
    Unwritable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

pub fn path() -> Result<PathBuf, CredentialsError> {
    let dirs =
        directories::ProjectDirs::from("", "", "avatar").ok_or(CredentialsError::NoConfigDir)?;
    Ok(dirs.config_dir().join("credentials"))
}

/// The stored key, if there is one and only the user can read it.
pub fn load(path: &Path) -> Result<Option<String>, CredentialsError> {
    let unreadable = |source| CredentialsError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    check_private(path, &metadata)?;
    let key = std::fs::read_to_string(path).map_err(unreadable)?;
    Ok(Some(key.trim().to_string()).filter(|k| !k.is_empty()))
}

#[cfg(unix)]
fn check_private(path: &Path, metadata: &std::fs::Metadata) -> Result<(), CredentialsError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CredentialsError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<(), CredentialsError> {
    Ok(())
}

/// Stores the key, replacing any earlier one; the file is created 0600.
pub fn store(path: &Path, key: &str) -> Result<(), CredentialsError> {
    write_atomic(path, format!("{}\n", key.trim()).as_bytes()).map_err(|source| {
        CredentialsError::Unwritable {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Removes the stored key; true if there was one.
pub fn remove(path: &Path) -> Result<bool, CredentialsError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(CredentialsError::Unwritable {
            path: path.to_path_buf(),
            source,
        }),
    }
}
