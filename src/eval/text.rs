//! The human-readable rendering of an [`EvalReport`]: a header with the class counts and
//! warnings, then aligned sections (ranking, operating points, onset, device count, registered
//! miners). Undefined values print as `-`. Pure: returns a `String`, so it is tested as text.

use std::fmt::Write as _;

use super::accuracy::OnsetErrors;
use super::report::{EvalReport, OperatingPoint, Rate, SMALL_RIG_KW};

/// A rate with 3 decimals, `-` when undefined.
fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

/// A score threshold: 4 decimals, scientific when very large or small.
fn score(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// Appends an aligned table: first column left-aligned, the others right-aligned. A header of
/// blanks is not printed.
fn table(out: &mut String, head: &[String], rows: &[(String, Vec<String>)]) {
    let all = || {
        std::iter::once((
            head.first().map_or("", String::as_str),
            head.get(1..).unwrap_or(&[]),
        ))
        .chain(rows.iter().map(|(l, c)| (l.as_str(), c.as_slice())))
    };
    let mut w = vec![0usize; head.len().max(1)];
    for (label, cells) in all() {
        w[0] = w[0].max(label.chars().count());
        for (j, c) in cells.iter().enumerate().take(w.len() - 1) {
            w[j + 1] = w[j + 1].max(c.chars().count());
        }
    }
    let print_head = head.iter().any(|h| !h.is_empty());
    for (label, cells) in all().skip(usize::from(!print_head)) {
        let mut s = format!("  {label:<width$}", width = w[0]);
        for (j, c) in cells.iter().enumerate().take(w.len() - 1) {
            let _ = write!(s, "  {c:>width$}", width = w[j + 1]);
        }
        let _ = writeln!(out, "{}", s.trim_end());
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl EvalReport {
    /// The report as aligned text (ends with a newline).
    pub fn text(&self) -> String {
        let mut o = String::new();
        if let (Some(l), Some(s)) = (&self.labels_file, &self.scores_file) {
            let _ = writeln!(o, "gridsleuth eval: labels {l}, scores {s}");
        }
        if let Some(x) = &self.excluded {
            let _ = writeln!(o, "left out of every metric (--exclude-kind): {x}");
        }
        let _ = writeln!(
            o,
            "meters {}: {} (positives), {}, {} (excluded, see below)",
            self.meters,
            plural(self.positives, "hidden miner", "hidden miners"),
            plural(self.negatives, "negative", "negatives"),
            plural(
                self.registered_miners,
                "registered miner",
                "registered miners"
            ),
        );
        if self.unscored_meters > 0 {
            let _ = writeln!(
                o,
                "WARNING: {} in labels had no score (ranked last)",
                plural(self.unscored_meters, "meter", "meters")
            );
        }
        if self.scores_not_in_labels > 0 {
            let _ = writeln!(
                o,
                "note: {} in scores.csv not in labels (ignored)",
                plural(self.scores_not_in_labels, "meter", "meters")
            );
        }
        if self.inconsistent_labels > 0 {
            let _ = writeln!(
                o,
                "WARNING: {} whose kind disagrees with is_mining (positives follow is_mining)",
                plural(self.inconsistent_labels, "label", "labels")
            );
        }

        o.push_str("\nRanking (registered miners excluded)\n");
        let mut rows = vec![
            (
                "ROC AUC".to_string(),
                vec![fmt4(self.roc_auc), String::new()],
            ),
            (
                "average precision".to_string(),
                vec![fmt4(self.average_precision), String::new()],
            ),
        ];
        for p in &self.precision_at_k {
            let label = if p.name == "npos" {
                format!("precision@{} (= #positives)", p.k)
            } else {
                format!("precision@{}", p.k)
            };
            rows.push((
                label,
                vec![
                    rate(p.precision),
                    format!("{} of {}", p.hits, p.k_effective),
                ],
            ));
        }
        table(
            &mut o,
            &[String::new(), String::new(), String::new()],
            &rows,
        );

        self.operating_points(&mut o);
        self.flagged_accuracy(&mut o);

        let r = &self.registered;
        let _ = writeln!(o, "\nRegistered miners: {}", r.count);
        match r.flagged {
            Some(0) => o.push_str("  flagged: 0 (must be 0)\n"),
            Some(n) => {
                let _ = writeln!(o, "  FAIL: {n} flagged (must be 0)");
            }
            None => o.push_str("  flagged: - (scores.csv has no flagged column)\n"),
        }
        let tops: Vec<String> = r
            .in_top_k
            .iter()
            .map(|t| {
                let k = if t.name == "npos" {
                    format!("{} (= #positives)", t.k)
                } else {
                    t.k.to_string()
                };
                format!("top {k}: {}", t.registered)
            })
            .collect();
        let _ = writeln!(o, "  in the ranking: {}", tops.join(", "));
        o
    }

    /// The operating-points table: one column per FPR budget, and the flagged list.
    fn operating_points(&self, o: &mut String) {
        let ops: Vec<&OperatingPoint> = self.at_fpr.iter().chain(&self.flagged).collect();
        let Some(first) = ops.first() else {
            return;
        };
        o.push_str("\nOperating points (thresholds strict: score > threshold)\n");
        let mut head = vec![String::new()];
        head.extend(ops.iter().map(|p| p.name.clone()));
        let row = |label: String, f: &dyn Fn(&OperatingPoint) -> String| {
            (label, ops.iter().map(|p| f(p)).collect::<Vec<_>>())
        };
        let rate_of = |r: &Rate| rate(r.rate);
        let mut rows = vec![
            row(
                "score threshold".into(),
                &|p| match (p.target_fpr, p.threshold) {
                    (None, _) => "-".into(),
                    (Some(_), None) => "any".into(),
                    (Some(_), Some(t)) => score(t),
                },
            ),
            row("meters flagged".into(), &|p| p.flagged.to_string()),
            row("true positives".into(), &|p| p.true_positives.to_string()),
            row("false positives".into(), &|p| p.false_positives.to_string()),
            row("false-positive rate".into(), &|p| rate(p.fpr)),
            row("precision".into(), &|p| format!("{:.3}", p.precision)),
            row(format!("recall (n={})", first.recall.of), &|p| {
                rate_of(&p.recall)
            }),
        ];
        for (bin, r) in &first.recall_by_devices {
            let unit = if bin == "1" { "device" } else { "devices" };
            rows.push(row(format!("  {bin} {unit} (n={})", r.of), &|p| {
                p.recall_by_devices.get(bin).map_or("-".into(), rate_of)
            }));
        }
        rows.push(row(
            format!(
                "  rigs < {SMALL_RIG_KW} kW (n={})",
                first.recall_small_rigs.of
            ),
            &|p| rate_of(&p.recall_small_rigs),
        ));
        for (kind, r) in &first.recall_by_kind {
            rows.push(row(format!("  {kind} (n={})", r.of), &|p| {
                p.recall_by_kind.get(kind).map_or("-".into(), rate_of)
            }));
        }
        rows.push(row("false positives by kind".into(), &|_| String::new()));
        for kind in first.false_positives_by_kind.keys() {
            let of = self.negatives_by_kind.get(kind).copied().unwrap_or(0);
            rows.push(row(format!("  {kind} (of {of})"), &|p| {
                p.false_positives_by_kind
                    .get(kind)
                    .map_or("-".into(), |n| n.to_string())
            }));
        }
        rows.push(row("registered miners flagged".into(), &|p| {
            p.registered_flagged.to_string()
        }));
        table(o, &head, &rows);
    }

    /// Onset and device-count accuracy of the flagged true positives.
    fn flagged_accuracy(&self, o: &mut String) {
        if let Some(on) = &self.onset {
            let start = on.window_start.as_deref().unwrap_or("unknown");
            let _ = writeln!(
                o,
                "\nOnset of flagged true positives (error in UTC days)\n  window start {start} \
                 ({})",
                on.window_start_source
            );
            let row = |label: &str, e: &OnsetErrors| {
                (
                    label.to_string(),
                    vec![
                        e.n.to_string(),
                        e.median_abs_error_days
                            .map_or("-".into(), |v| format!("{v:.1}")),
                        rate(e.within_1_day),
                    ],
                )
            };
            let head: Vec<String> = ["", "n", "median |error|", "within 1 day"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            table(
                o,
                &head,
                &[
                    row("onset at window start", &on.at_window_start),
                    row("onset mid-window", &on.mid_window),
                    row("all", &on.all),
                ],
            );
            if on.without_onset > 0 {
                let _ = writeln!(
                    o,
                    "  ({} without an estimated or a true onset)",
                    plural(
                        on.without_onset,
                        "flagged true positive",
                        "flagged true positives"
                    )
                );
            }
        }
        if let Some(d) = &self.devices {
            let _ = writeln!(
                o,
                "\nDevice count of flagged true positives: {} with an estimate, exact {}, \
                 within +-1 {}",
                d.n,
                rate(d.exact),
                rate(d.within_1)
            );
            if d.without_estimate > 0 {
                let _ = writeln!(o, "  ({} without an estimate)", d.without_estimate);
            }
        }
    }
}

fn fmt4(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}
