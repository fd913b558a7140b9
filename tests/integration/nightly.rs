//! `gridsleuth nightly` and `gridsleuth outcomes import` (issue 9), through the binary: ten
//! simulated nights from `synth` output split into daily landing files. Rigs appear, one adds
//! devices, one stops (its readings become a household's); a corrected file is re-delivered; one
//! night has no file. Checked each night: the exit code, the case states, the files table, and at
//! the end: a re-run of the same night gives identical outputs and rows, a concurrent nightly
//! is refused, outcomes with bad rows are reported and the good ones act on the cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::atomic_runs::snapshot;

const START_DAY: u32 = 1; // 2024-03-01
const DAYS: u32 = 17;
const WINDOW: u32 = 7;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gridsleuth"));
    c.env_remove("GRIDSLEUTH_BARRIER")
        .env_remove("GRIDSLEUTH_BARRIER_TRACE");
    c
}

fn day(d: u32) -> String {
    format!("2024-03-{:02}", START_DAY + d - 1)
}

struct Site {
    dir: PathBuf,
    /// Day (1-based) -> the day's CSV text.
    days: BTreeMap<u32, String>,
    labels: Vec<BTreeMap<String, String>>,
}

fn read_labels(p: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(p).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            h.iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// A synthetic region split into one landing file per UTC day. The rig of `stop` stops on
/// `stop_day`: from then on its readings are those of the household `donor`.
fn site(tmp: &Path) -> Site {
    let syn = tmp.join("syn");
    let st = bin()
        .args([
            "synth",
            "--quiet",
            "--meters",
            "160",
            "--days",
            &DAYS.to_string(),
            "--start",
            &day(1),
            "--format",
            "csv",
            "--seed",
            "7",
            "--mining-share",
            "0.12",
            "--missing-share",
            "0",
            "--gap-meter-share",
            "0",
            "--estimated-meter-share",
            "0",
            "-o",
        ])
        .arg(&syn)
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(syn.join("readings.csv")).unwrap();
    let mut days: BTreeMap<u32, String> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let ts = line.split(',').nth(1).unwrap();
        let d: u32 = ts[8..10].parse().unwrap();
        days.entry(d - START_DAY + 1)
            .or_insert_with(|| "meter_id,timestamp,kwh\n".to_string())
            .push_str(&format!("{line}\n"));
    }
    let dir = tmp.join("site");
    std::fs::create_dir_all(dir.join("landing")).unwrap();
    std::fs::write(
        dir.join("site.toml"),
        format!(
            "[inputs]\nmeters = \"{}\"\n\n[time]\ntz = \"UTC\"\ninterval = \"30m\"\n\n\
             [nightly]\nlanding = [\"landing/*.csv\"]\nstate = \"state\"\nwindow_days = {WINDOW}\n\
             keep_runs = 4\nkeep_vanished_nights = 3\n",
            syn.join("meters.csv").display()
        ),
    )
    .unwrap();
    Site {
        dir,
        days,
        labels: read_labels(&syn.join("labels.csv")),
    }
}

impl Site {
    fn deliver(&self, d: u32, text: &str) {
        std::fs::write(self.dir.join(format!("landing/{}.csv", day(d))), text).unwrap();
    }
    fn nightly(&self, extra: &[&str]) -> (i32, serde_json::Value, String) {
        let o = bin()
            .args(["nightly", "--json", "--config"])
            .arg(self.dir.join("site.toml"))
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let json = serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null);
        (o.status.code().unwrap_or(-1), json, stderr)
    }
    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }
    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.state().join("gridsleuth.sqlite")).unwrap()
    }
    /// meter -> state of its case on `night` (the latest case of the meter).
    fn states(&self, night: &str) -> BTreeMap<String, String> {
        let c = self.db();
        let mut st = c
            .prepare(
                "SELECT c.meter_id, n.state FROM case_nights n JOIN cases c USING (case_id)
                 WHERE n.night = ?1 ORDER BY c.opened, n.case_id",
            )
            .unwrap();
        st.query_map([night], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

fn rows(c: &rusqlite::Connection, table: &str) -> i64 {
    c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn ten_nights_of_cases_from_a_landing_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = site(tmp.path());
    let mining: Vec<&BTreeMap<String, String>> = s
        .labels
        .iter()
        .filter(|l| l["is_mining"] == "true")
        .collect();
    let onset_day = |l: &BTreeMap<String, String>| -> Option<u32> {
        let o = &l["onset"];
        (o.len() >= 10).then(|| o[8..10].parse::<u32>().unwrap() - START_DAY + 1)
    };
    // The rig that stops: running from before the first night, not growing.
    let stopper = mining
        .iter()
        .find(|l| onset_day(l).is_some_and(|d| d <= 2) && l["growth_at"].is_empty())
        .map(|l| l["meter_id"].clone())
        .expect("a rig running from the start");
    let donor = s
        .labels
        .iter()
        .find(|l| l["kind"] == "household")
        .map(|l| l["meter_id"].clone())
        .unwrap();
    let stop_day = 8;
    for (d, text) in s.days.iter_mut() {
        if *d < stop_day {
            continue;
        }
        let donor_rows: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{donor},")))
            .map(|l| l.replacen(&donor, &stopper, 1))
            .collect();
        let mut out: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with(&format!("{stopper},")))
            .map(String::from)
            .collect();
        out.extend(donor_rows);
        *text = out.join("\n") + "\n";
    }

    // First night: the first WINDOW days at once.
    for d in 1..=WINDOW {
        s.deliver(d, &s.days[&d]);
    }
    let mut by_night: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let missing_day = WINDOW + 4; // never delivered
    let corrected_day = WINDOW - 1; // re-delivered, corrected, on the sixth night
    for k in 0..10u32 {
        let d = WINDOW + k;
        if k > 0 && d != missing_day {
            s.deliver(d, &s.days[&d]);
        }
        if k == 6 {
            // A corrected file: one household's readings were doubled in the first delivery
            // (here: the correction halves them; new content, same name).
            let fixed: String = s.days[&corrected_day]
                .lines()
                .map(|l| {
                    if l.starts_with(&format!("{donor},")) {
                        let mut p: Vec<String> = l.split(',').map(String::from).collect();
                        let v: f64 = p[2].parse().unwrap();
                        p[2] = format!("{:.3}", v * 0.5);
                        p.join(",")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n";
            s.deliver(corrected_day, &fixed);
        }
        let (code, json, err) = s.nightly(&[]);
        if d == missing_day {
            assert_eq!(code, 3, "a night without a file is 'no new data': {err}");
            assert_eq!(json["status"], "no_new_data");
            let notes = json["notes"].to_string();
            assert!(notes.contains(&day(missing_day)), "{notes}");
            continue;
        }
        assert!(
            code == 0 || code == 1,
            "night {}: exit {code}: {err}",
            day(d)
        );
        assert_eq!(json["night"], day(d), "{json}");
        if d == missing_day + 1 {
            assert_eq!(json["missing_days"], serde_json::json!([day(missing_day)]));
        }
        if k == 6 {
            assert_eq!(json["files_replaced"], 1, "{json}");
            let c = s.db();
            assert_eq!(rows(&c, "events WHERE kind = 'replaced'"), 1);
            let replaced: i64 = c
                .query_row(
                    "SELECT COUNT(*) FROM files WHERE status = 'replaced' AND path LIKE ?1",
                    [format!("%{}.csv", day(corrected_day))],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(replaced, 1);
        } else {
            assert_eq!(json["files_replaced"], 0, "{json}");
        }
        // Each night reads only its new files.
        let expected_new = if k == 0 { WINDOW as i64 } else { 1 };
        assert_eq!(json["files_new"], expected_new, "night {}: {json}", day(d));
        let states = s.states(&day(d));
        by_night.push((day(d), states));
    }
    let table: Vec<String> = by_night
        .iter()
        .map(|(n, st)| format!("{n}: {st:?}"))
        .collect();
    let table = table.join("\n");

    // Expected case states.
    let state_of = |m: &str, i: usize| by_night[i].1.get(m).cloned();
    // Every case starts as new, and a meter's case is never new twice in a row.
    for m in by_night.iter().flat_map(|(_, st)| st.keys()) {
        let seq: Vec<Option<String>> = (0..by_night.len()).map(|i| state_of(m, i)).collect();
        let first = seq.iter().position(Option::is_some).unwrap();
        assert_eq!(seq[first].as_deref(), Some("new"), "{m}: {seq:?}\n{table}");
        for w in seq.windows(2) {
            assert!(
                !(w[0].as_deref() == Some("new") && w[1].as_deref() == Some("new")),
                "{m}: {seq:?}"
            );
        }
    }
    // The rig that stopped: flagged on the first night, vanished by the last one.
    assert!(
        state_of(&stopper, 0).is_some_and(|s| s == "new"),
        "{stopper} not flagged on the first night\n{table}"
    );
    assert!(
        (0..by_night.len()).any(|i| state_of(&stopper, i).as_deref() == Some("vanished")),
        "{stopper} never vanished\n{table}"
    );
    // Rigs that appear during the ten nights open new cases on a later night.
    let appearing: Vec<&str> = mining
        .iter()
        .filter(|l| onset_day(l).is_some_and(|d| d > WINDOW && d < WINDOW + 6))
        .map(|l| l["meter_id"].as_str())
        .collect();
    let opened_later = appearing
        .iter()
        .filter(|m| state_of(m, 0).is_none() && by_night.iter().any(|(_, st)| st.contains_key(**m)))
        .count();
    assert!(
        opened_later >= 1,
        "no rig appearing after the first night opened a case: {appearing:?}\n{table}"
    );
    // A rig adding devices during the nights escalates.
    let growers: Vec<&str> = mining
        .iter()
        .filter(|l| {
            let g = &l["growth_at"];
            g.len() >= 10 && {
                let gd = g[8..10].parse::<u32>().unwrap() - START_DAY + 1;
                gd > WINDOW && gd < WINDOW + 8
            }
        })
        .map(|l| l["meter_id"].as_str())
        .collect();
    if !growers.is_empty() {
        let c = s.db();
        let mut hist = String::new();
        for m in &growers {
            let mut st = c
                .prepare(
                    "SELECT n.night, n.state, n.kw, n.devices, n.max_kw FROM case_nights n
                     JOIN cases c USING (case_id) WHERE c.meter_id = ?1 ORDER BY n.night",
                )
                .unwrap();
            // night, state, kW, devices, max kW
            let v: Vec<String> = st
                .query_map([m], |r| {
                    Ok(format!(
                        "{} {} {:?} {:?} {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<f64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, f64>(4)?
                    ))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let l = s.labels.iter().find(|l| l["meter_id"] == *m).unwrap();
            hist.push_str(&format!("{m} {l:?}: {v:?}\n"));
        }
        assert!(
            growers
                .iter()
                .any(|m| (0..by_night.len())
                    .any(|i| state_of(m, i).as_deref() == Some("escalating"))),
            "no growing rig escalated: {growers:?}\n{hist}"
        );
    }
    eprintln!("{table}");

    // Retention: keep_runs folders, `latest` at the last night.
    let runs = s.state().join("runs");
    let dated: Vec<String> = std::fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("2024-"))
        .collect();
    assert_eq!(dated.len(), 4, "{dated:?}");
    let last = by_night.last().unwrap().0.clone();
    assert_eq!(
        std::fs::read_to_string(runs.join("LATEST")).unwrap().trim(),
        last
    );
    assert!(runs.join("latest/cases.csv").exists());
    assert!(runs.join("latest/report/index.html").exists());

    // Nothing new: exit 3, nothing written.
    let before = snapshot(&runs.join(&last));
    let (code, json, _) = s.nightly(&[]);
    assert_eq!(code, 3);
    assert_eq!(json["status"], "no_new_data");
    // A re-run of the same night: identical folder, no duplicate rows.
    let c = s.db();
    let counts = |c: &rusqlite::Connection| {
        [
            "runs",
            "files",
            "file_days",
            "scores",
            "cases",
            "case_nights",
            "events",
        ]
        .map(|t| rows(c, t))
    };
    let n_before = counts(&c);
    let (code, json, err) = s.nightly(&["--rerun"]);
    assert!(code <= 1, "{err}");
    assert_eq!(json["night"], last);
    assert_eq!(counts(&c), n_before, "a re-run added rows");
    let after = snapshot(&runs.join(&last));
    let differing: Vec<&String> = before
        .keys()
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(differing.is_empty(), "a re-run changed {differing:?}");
    assert_eq!(before.len(), after.len());

    // A concurrent nightly is refused while the lock is held.
    {
        let _held = gridsleuth::nightly::lock::Lock::take(&s.state()).unwrap();
        let (code, _, err) = s.nightly(&[]);
        assert_eq!(code, 4, "{err}");
        assert!(
            err.contains("another gridsleuth nightly is running"),
            "{err}"
        );
    }

    // Outcomes with bad rows: reported with file, row, column and fix; the good ones recorded.
    let cases = std::fs::read_to_string(runs.join("latest/cases.csv")).unwrap();
    let open: Vec<(String, String)> = cases
        .lines()
        .skip(1)
        .filter(|l| l.contains(",new,") || l.contains(",persisting,") || l.contains(",escalating,"))
        .map(|l| {
            let p: Vec<&str> = l.split(',').collect();
            (p[0].to_string(), p[1].to_string())
        })
        .collect();
    assert!(open.len() >= 2, "{cases}");
    let visits = s.dir.join("visits.csv");
    std::fs::write(
        &visits,
        format!(
            "case_id,meter_id,visit_date,outcome,found_kw,devices,notes\n\
             {},,{last},mining_confirmed,3.5,2,found in the garage\n\
             ,{},{last},no_mining,,,heat pump\n\
             nope@2024,,{last},no_mining,,,\n\
             ,{},not-a-date,mining_confirmed,,,\n\
             ,{},{last},raided,,,\n",
            open[0].0, open[1].1, open[1].1, open[1].1
        ),
    )
    .unwrap();
    let o = bin()
        .args(["outcomes", "import"])
        .arg(&visits)
        .arg("--config")
        .arg(s.dir.join("site.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("row 4, column case_id"), "{text}");
    assert!(text.contains("row 5, column visit_date"), "{text}");
    assert!(text.contains("row 6, column outcome"), "{text}");
    assert_eq!(text.matches("fix:").count(), 3, "{text}");
    assert!(text.contains("2 imported"), "{text}");
    // Importing again records nothing twice.
    let o = bin()
        .args(["outcomes", "import"])
        .arg(&visits)
        .arg("--config")
        .arg(s.dir.join("site.toml"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 imported, 2 already imported"));
    // The next re-run of the night applies them: both cases closed, the field record counts.
    let (code, json, err) = s.nightly(&["--rerun"]);
    assert!(code <= 1, "{err}");
    let after_cases = std::fs::read_to_string(runs.join("latest/cases.csv")).unwrap();
    assert!(
        json["cases"]["closed"].as_u64().unwrap() >= 2,
        "{json}\nvisited {open:?}\n{cases}\nafter:\n{after_cases}"
    );
    let st = s.states(&last);
    assert_eq!(
        st.get(&open[1].1).map(String::as_str),
        Some("closed"),
        "{st:?}"
    );
    let nj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs.join("latest/nightly.json")).unwrap()).unwrap();
    assert_eq!(nj["field"]["total"]["confirmed"], 1, "{}", nj["field"]);
    assert_eq!(nj["field"]["total"]["no_mining"], 1);
    assert_eq!(nj["field"]["total"]["confirmed_kw"], 3.5);
    let index = std::fs::read_to_string(runs.join("latest/report/index.html")).unwrap();
    assert!(
        index.contains("id=\"cases\""),
        "the report has no cases section"
    );
}

/// A visited meter of the calibration tests: its evidence as tonight's run saw it.
struct Visited {
    meter_id: String,
    flat: f64,
    score: f64,
}

/// The case ids of one group of the report index's cases section, in the order shown.
fn group_order(html: &str, state: &str) -> Vec<String> {
    let start = html
        .find(&format!("<h3 class=\"case-group {state}\">"))
        .unwrap_or_else(|| panic!("no {state} group in the report index"));
    let section = &html[start..];
    let section = &section[..section.find("</table>").unwrap()];
    section
        .split("<td class=\"id\">")
        .skip(1)
        .map(|cell| {
            let cell = &cell[..cell.find("</td>").unwrap()];
            // Strip the link around the id, if any.
            let text = cell.rsplit_once("\">").map_or(cell, |(_, t)| t);
            text.trim_end_matches("</a>").to_string()
        })
        .collect()
}

/// Seven days of the synthetic site, one night; then one visit per unflagged meter whose
/// score is the tie-break alone (level evidence 0: the score orders them by their floor above
/// a household's, nothing else), labelled by `confirmed`; then the night again (`--rerun`: the
/// same window and features). Returns the summary, `nightly.json` and the report's index.
fn calibration_night(
    tmp: &Path,
    confirmed: impl Fn(&Visited, &[Visited]) -> bool,
) -> (serde_json::Value, serde_json::Value, String) {
    use polars::prelude::{ParquetReader, SerReader};
    let s = site(tmp);
    for d in 1..=WINDOW {
        s.deliver(d, &s.days[&d]);
    }
    let (code, _, err) = s.nightly(&[]);
    assert!(code == 0 || code == 1, "{err}");
    let run = s.state().join("runs").join(day(WINDOW));
    let file = std::fs::File::open(run.join("features.parquet")).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let col = |name: &str| df.column(name).unwrap().f64().unwrap().clone();
    let (flat, level, score) = (col("ev_flat"), col("ev_level"), col("score"));
    let ids = df.column("meter_id").unwrap().str().unwrap().clone();
    let flagged: Vec<String> = read_labels(&run.join("suspects.csv"))
        .into_iter()
        .map(|r| r["meter_id"].clone())
        .collect();
    let visited: Vec<Visited> = (0..df.height())
        .filter_map(|i| {
            let id = ids.get(i)?.to_string();
            (level.get(i)? == 0.0 && !flagged.contains(&id)).then(|| Visited {
                meter_id: id,
                flat: flat.get(i).unwrap_or(f64::NAN),
                score: score.get(i).unwrap_or(f64::NAN),
            })
        })
        .collect();
    let mut csv = String::from("meter_id,visit_date,outcome\n");
    let mut n = [0usize; 2];
    for v in &visited {
        let y = confirmed(v, &visited);
        n[usize::from(y)] += 1;
        let outcome = if y { "mining_confirmed" } else { "no_mining" };
        csv.push_str(&format!("{},{},{outcome}\n", v.meter_id, day(WINDOW)));
    }
    assert!(
        n.iter().all(|&k| k >= 30),
        "the test needs at least 30 outcomes of each class: {n:?} of {} visited",
        visited.len()
    );
    let visits = tmp.join("visits.csv");
    std::fs::write(&visits, csv).unwrap();
    let o = bin()
        .args(["outcomes", "import"])
        .arg(&visits)
        .arg("--config")
        .arg(s.dir.join("site.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("{} imported", visited.len())),
        "{text}"
    );
    let (code, json, err) = s.nightly(&["--rerun"]);
    assert!(code == 0 || code == 1, "{err}");
    let nightly: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("nightly.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(run.join("report/index.html"))
        .unwrap()
        .replace("&#x27;", "'")
        .replace("&#39;", "'");
    (json, nightly, html)
}

/// The value at the middle of the sorted `xs`.
fn middle(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

#[test]
fn a_calibration_that_beats_the_score_ranks_the_list() {
    // The field confirms the meters whose floor is flat (the flat-floor evidence), which the
    // score of these meters ignores: without level evidence it is the tie-break alone.
    let tmp = tempfile::tempdir().unwrap();
    let (json, nightly, html) = calibration_night(tmp.path(), |v, all| {
        v.flat > middle(all.iter().map(|v| v.flat).collect())
    });
    let cal = &nightly["calibration"];
    assert_eq!(cal["fitted"], true, "{cal}");
    let (c, s) = (
        cal["cv_auc_calibrated"].as_f64().unwrap(),
        cal["cv_auc_score"].as_f64().unwrap(),
    );
    assert!(c > 0.9 && s < c - 0.1, "calibrated {c} vs score {s}: {cal}");
    assert_eq!(cal["used"], true, "{cal}");
    assert_eq!(json["ranked_by"], "calibrated probability");
    assert_eq!(nightly["ranked_by"], "calibrated probability");
    assert!(
        html.contains("Ranked by calibrated probability."),
        "the index does not say what ranked the list"
    );
    assert!(
        html.contains(&format!(
            "cross-validated ROC AUC {c:.3} calibrated vs {s:.3} raw score: tonight's cases \
             are ranked by the calibrated probability."
        )),
        "the index does not give the cross-validation"
    );
    // The new cases are listed by their calibrated probability, highest first.
    let order = group_order(&html, "new");
    assert!(order.len() >= 3, "{order:?}");
    let p = |case: &str| {
        let meter = case.split('@').next().unwrap();
        cal["probability"][meter]
            .as_f64()
            .unwrap_or_else(|| panic!("no probability for {meter}"))
    };
    for w in order.windows(2) {
        assert!(p(&w[0]) >= p(&w[1]), "{order:?}");
    }
    assert!(html.contains("(p "), "probabilities are not shown");
}

#[test]
fn a_calibration_that_does_not_beat_the_score_leaves_the_list_to_the_score() {
    // The field confirms exactly the meters the score puts higher: the raw score separates the
    // outcomes perfectly (cross-validated ROC AUC 1), the calibration can at best tie.
    let tmp = tempfile::tempdir().unwrap();
    let (json, nightly, html) = calibration_night(tmp.path(), |v, all| {
        v.score > middle(all.iter().map(|v| v.score).collect())
    });
    let cal = &nightly["calibration"];
    assert_eq!(cal["fitted"], true, "{cal}");
    assert_eq!(cal["cv_auc_score"].as_f64(), Some(1.0), "{cal}");
    assert_eq!(cal["used"], false, "{cal}");
    assert_eq!(json["ranked_by"], "score");
    assert_eq!(nightly["ranked_by"], "score");
    assert!(
        html.contains("Ranked by score."),
        "the index does not say what ranked the list"
    );
    assert!(
        html.contains("tonight's cases are ranked by score."),
        "the index does not say the calibration lost"
    );
    // The new cases are listed by score, highest first, as nightly.json has them.
    let order = group_order(&html, "new");
    let by_score: Vec<String> = nightly["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "new")
        .map(|c| c["case_id"].as_str().unwrap().to_string())
        .collect();
    assert!(order.len() >= 3, "{order:?}");
    assert_eq!(order, by_score);
    let score = |case: &str| {
        nightly["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["case_id"] == case)
            .and_then(|c| c["score"].as_f64())
            .unwrap()
    };
    for w in order.windows(2) {
        assert!(score(&w[0]) >= score(&w[1]), "{order:?}");
    }
}
