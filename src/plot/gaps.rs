//! Gap splitting shared by both chart stacks: a series with missing values is drawn as runs of
//! consecutive present points, never bridged across a gap.

/// Runs of consecutive points whose y is finite (`NaN` or infinite y ends a run).
pub fn runs<X: Into<f64>>(points: impl IntoIterator<Item = (X, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for (x, y) in points {
        if y.is_finite() {
            cur.push((x.into(), y));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_end_runs_and_are_never_bridged() {
        let r = runs([
            (0.0, 1.0),
            (1.0, f64::NAN),
            (2.0, 2.0),
            (3.0, 3.0),
            (4.0, f64::NAN),
        ]);
        assert_eq!(r, vec![vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
        assert!(runs::<f64>([]).is_empty());
        assert!(runs([(0.0, f64::NAN)]).is_empty());
    }
}
