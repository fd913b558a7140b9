//! The one error type of settings ([`SettingsError`]: the flag or key, the value, what would be
//! valid) and the helpers that make and print it. Input: a bad value; output: the message.

use std::path::PathBuf;

/// A setting that cannot be used, with where it came from.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    #[error("{key}: {value} {message}\n  fix: {fix}")]
    OutOfRange {
        key: String,
        value: String,
        message: String,
        fix: String,
    },
    #[error("config file {path}: cannot read it\n  fix: check the path given to --config")]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: not a valid gridsleuth config (unknown keys are errors)\n  fix: see README \"Configuration\" for every table and key")]
    ParseConfig {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("no readings given\n  fix: pass --readings FILE (or a quoted glob), or set inputs.readings in the config file")]
    NoReadings,
    #[error("no input files match {pattern:?}\n  fix: check the path; quote globs so the shell does not expand them")]
    NoMatch { pattern: String },
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
}

/// A setting that is not valid at all (not a range problem).
pub(crate) fn invalid(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// The messages of an error and of every source below it, joined by ": " (for tests and logs
/// that want the whole chain on one line).
pub fn message_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
