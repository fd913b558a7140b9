//! Numbers in messages and in `data_quality.csv`: compact, whatever the input held. A reading of
//! `1e300` is reported as `1e300`, not as 301 digits; `0.1 + 0.2` as `0.3`; an `f32` cell as the
//! value it holds (`0.6`, not `0.6000000238418579`).
//!
//! The rule: at most 6 significant digits, never fewer than the integer part needs below 10^9;
//! scientific notation (`2.5e-7`, `1.23457e15`) outside [1e-4, 1e9).

/// `x` with at most 6 significant digits; scientific outside [1e-4, 1e9).
pub fn compact(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (1e-4..1e9).contains(&a) {
        // Digits before the point (at least 1), then decimals up to 6 significant digits.
        let int_digits = (a.log10().floor() as i32 + 1).max(1);
        let decimals = if a >= 1.0 {
            (6 - int_digits).max(0) as usize
        } else {
            // 0.000123456: leading zeros after the point do not count as significant.
            (6 - a.log10().floor() as i32 - 1).clamp(0, 12) as usize
        };
        let s = format!("{x:.decimals$}");
        let s = trim_zeros(&s);
        // Rounding can reach 1e9 (999999999.7 -> 1000000000): still correct, just long.
        return s;
    }
    let s = format!("{x:.5e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => format!("{}e{exp}", trim_zeros(mantissa)),
        None => s,
    }
}

/// `x` as [`compact`] (for `f32` values read back from the matrix).
pub fn compact32(x: f32) -> String {
    // Through the shortest decimal that round-trips the f32, so 0.6f32 prints as 0.6.
    compact(x.to_string().parse::<f64>().unwrap_or(f64::from(x)))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_numbers() {
        let cases = [
            (1e300, "1e300"),
            (-1e300, "-1e300"),
            (f64::MAX, "1.79769e308"),
            (1e-300, "1e-300"),
            (2.5e-7, "2.5e-7"),
            (1.234_567_89e15, "1.23457e15"),
            (1e9, "1e9"),
            (999_999_999.0, "999999999"),
            (123_456_789.123, "123456789"),
            (25_000.0, "25000"),
            (1000.5, "1000.5"),
            (0.6, "0.6"),
            (0.1 + 0.2, "0.3"),
            (0.000_123_456_78, "0.000123457"),
            (1e-4, "0.0001"),
            (-0.2, "-0.2"),
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            assert_eq!(compact(x), want, "{x:e}");
        }
        assert_eq!(compact32(0.6), "0.6");
        assert_eq!(compact32(f32::MAX), "3.40282e38");
        // Never longer than a sign, 6 digits, a point and an exponent (or 9 integer digits).
        for k in -320..=308 {
            let x = 10f64.powi(k) * 1.234_567_891;
            assert!(compact(x).len() <= 13, "{x:e}: {}", compact(x));
        }
    }
}
