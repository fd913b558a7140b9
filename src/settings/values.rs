//! Parsers of single setting values (zones, durations, window bounds, delimiters, input globs),
//! shared by every command's settings (and by `synth`'s own option checks). Each rejects a bad
//! value with the key, the value and what would be valid.

use std::path::{Path, PathBuf};

use super::{invalid, SettingsError};
use crate::ingest::{TimeFormat, TimeSpec};

/// Parses an IANA zone name.
pub fn parse_tz(key: &str, s: &str) -> Result<chrono_tz::Tz, SettingsError> {
    s.parse::<chrono_tz::Tz>().map_err(|_| {
        invalid(
            key,
            format!("{s:?} is not an IANA time zone (e.g. UTC, Europe/London, Asia/Almaty)"),
        )
    })
}

/// `30m`, `30min`, `1h`, `900s`, or plain minutes `30`. Must divide a day and be >= 1 minute.
pub fn parse_interval(key: &str, s: &str) -> Result<u32, SettingsError> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix("min") {
        (n, 60)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1)
    } else {
        (t.as_str(), 60)
    };
    let v: u32 = num
        .trim()
        .parse()
        .map_err(|_| invalid(key, format!("{s:?} is not a duration like 30m, 1h, 900s")))?;
    let secs = v
        .checked_mul(mult)
        .ok_or_else(|| invalid(key, format!("{s:?} is too long")))?;
    if secs < 60 || 86_400 % secs != 0 {
        return Err(invalid(key, format!("{s:?}: the interval must be at least 1 minute and divide a day (5m, 10m, 15m, 30m, 1h ...)")));
    }
    Ok(secs)
}

/// A window bound: `YYYY-MM-DD` (local midnight in `tz`) or a timestamp (offset honoured).
pub fn parse_bound(key: &str, s: &str, time: &TimeSpec) -> Result<i64, SettingsError> {
    let mut p = TimeSpec {
        format: TimeFormat::Iso,
        ..time.clone()
    }
    .parser();
    match p.parse(s.as_bytes()) {
        Ok(crate::ingest::Stamp::At(t)) | Ok(crate::ingest::Stamp::Ambiguous(t, _)) => Ok(t),
        Err(_) => Err(invalid(key, format!("{s:?} is not a date (YYYY-MM-DD) or timestamp (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]) in {}", time.tz))),
    }
}

/// One ASCII character, or `tab`.
pub fn parse_delimiter(key: &str, s: &str) -> Result<u8, SettingsError> {
    match s {
        "\\t" | "tab" | "\t" => Ok(b'\t'),
        s if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(invalid(
            key,
            format!("{s:?} must be one ASCII character (or 'tab')"),
        )),
    }
}

/// Expands paths and globs, in argument order, each glob's matches sorted.
pub fn expand_inputs(
    patterns: &[String],
    base: Option<&Path>,
) -> Result<Vec<PathBuf>, SettingsError> {
    let mut out = Vec::new();
    for pat in patterns {
        let full = match base {
            Some(b) if Path::new(pat).is_relative() => b.join(pat).to_string_lossy().into_owned(),
            _ => pat.clone(),
        };
        if Path::new(&full).exists() {
            out.push(PathBuf::from(&full));
            continue;
        }
        let has_glob = full.contains(['*', '?', '[']);
        if !has_glob {
            // Let ingest report a missing file with its own message.
            out.push(PathBuf::from(&full));
            continue;
        }
        let mut matches: Vec<PathBuf> = glob::glob(&full)
            .map_err(|e| invalid("--readings", format!("bad glob {pat:?}: {e}")))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        if matches.is_empty() {
            return Err(SettingsError::NoMatch {
                pattern: pat.clone(),
            });
        }
        matches.sort();
        out.extend(matches);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("k", "30m").ok(), Some(1800));
        assert_eq!(parse_interval("k", "15min").ok(), Some(900));
        assert_eq!(parse_interval("k", "1h").ok(), Some(3600));
        assert_eq!(parse_interval("k", "30").ok(), Some(1800));
        assert!(parse_interval("k", "7m").is_err(), "does not divide a day");
        assert!(parse_interval("k", "10s").is_err());
        let e = parse_interval("--interval", "abc").unwrap_err().to_string();
        assert!(e.contains("--interval") && e.contains("abc"), "{e}");
    }

    #[test]
    fn zones_and_bounds() {
        assert!(parse_tz("--tz", "Mars/Olympus")
            .unwrap_err()
            .to_string()
            .contains("IANA"));
        let time = TimeSpec {
            tz: parse_tz("--tz", "Europe/London").unwrap(),
            ..TimeSpec::default()
        };
        // Local midnight in summer time is 23:00 UTC the day before.
        assert_eq!(
            parse_bound("--start", "2024-07-01", &time).unwrap(),
            1_719_788_400
        );
        assert!(parse_bound("--start", "July", &time).is_err());
    }
}
