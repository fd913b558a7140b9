//! Reading one numeric field: trimming, null tokens, unit scaling. Shared by every reader so a
//! value means the same thing whatever file it came from.

use super::quality::Reason;

/// Unit of the value column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueUnit {
    /// kWh per interval (default).
    Kwh,
    /// Wh per interval.
    Wh,
    /// Average kW over the interval.
    Kw,
    /// Average W over the interval.
    W,
}

impl ValueUnit {
    /// Scale to kWh (energy units) or kW (power units), and which of the two it is.
    pub fn scale(self) -> (f64, super::accumulate::PushUnit) {
        use super::accumulate::PushUnit;
        match self {
            ValueUnit::Kwh => (1.0, PushUnit::Kwh),
            ValueUnit::Wh => (1e-3, PushUnit::Kwh),
            ValueUnit::Kw => (1.0, PushUnit::Kw),
            ValueUnit::W => (1e-3, PushUnit::Kw),
        }
    }
}

/// Tokens that mean "no value" in addition to an empty field.
#[derive(Debug, Clone)]
pub struct NullTokens(Vec<Vec<u8>>);

impl NullTokens {
    pub fn new<S: AsRef<str>>(tokens: &[S]) -> Self {
        NullTokens(
            tokens
                .iter()
                .map(|t| t.as_ref().trim().as_bytes().to_vec())
                .collect(),
        )
    }
    pub fn is_null(&self, field: &[u8]) -> bool {
        field.is_empty() || self.0.iter().any(|t| t.as_slice() == field)
    }
}

/// Tokens meaning "no value" when none are configured (besides an empty field).
pub const DEFAULT_NULL_TOKENS: [&str; 6] = ["NA", "N/A", "null", "Null", "NULL", "-"];

impl Default for NullTokens {
    fn default() -> Self {
        NullTokens::new(&DEFAULT_NULL_TOKENS)
    }
}

/// Trims ASCII whitespace on both sides (exports pad values: `" 0.219 "`).
pub fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Parses a value field. `Err` carries the quarantine reason.
pub fn parse_value(field: &[u8], nulls: &NullTokens) -> Result<f64, Reason> {
    let f = trim(field);
    if nulls.is_null(f) {
        return Err(Reason::NullValue);
    }
    let s = std::str::from_utf8(f).map_err(|_| Reason::NonNumeric)?;
    let v: f64 = s.parse().map_err(|_| Reason::NonNumeric)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Reason::NotFinite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let n = NullTokens::default();
        assert_eq!(parse_value(b" 0.219 ", &n), Ok(0.219));
        assert_eq!(parse_value(b"1e3", &n), Ok(1000.0));
        assert_eq!(parse_value(b"", &n), Err(Reason::NullValue));
        assert_eq!(parse_value(b" Null", &n), Err(Reason::NullValue));
        assert_eq!(parse_value(b"abc", &n), Err(Reason::NonNumeric));
        assert_eq!(parse_value(b"1,5", &n), Err(Reason::NonNumeric));
        assert_eq!(parse_value(b"NaN", &n), Err(Reason::NotFinite));
        assert_eq!(parse_value(b"inf", &n), Err(Reason::NotFinite));
    }
}
