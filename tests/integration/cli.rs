//! The binary: help text, exit codes, and the files it writes.

use crate::support::*;

#[test]
fn ingest_help_has_examples_and_exit_codes() {
    for argv in [
        &["ingest", "--help"][..],
        &["check", "--help"],
        &["help", "ingest"],
    ] {
        let (code, out, err) = run_raw(argv);
        assert_eq!(code, 0, "{argv:?}: {err}");
        for needle in [
            "Examples:",
            "gridsleuth ingest -r",
            "--meter-col LCLid",
            "Exit codes:",
            "0  finished, every reading used",
            "1  finished, but some readings were quarantined",
            "2  fatal error",
            "--readings",
            "--tz",
            "--dst-ambiguous",
            "--interval",
            "--write-matrix",
        ] {
            assert!(
                out.contains(needle),
                "{argv:?} help lacks {needle:?}:\n{out}"
            );
        }
    }
    let (code, out, _) = run_raw(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Exit codes:") && out.contains("ingest"),
        "{out}"
    );
}

#[test]
fn exit_code_0_when_clean_and_1_when_quarantined() {
    let clean = gridsleuth(&["-r", &bad("clean.csv")]);
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    assert!(clean
        .stdout
        .contains("8 read = 8 used + 0 quarantined + 0 exact duplicates"));
    let dirty = gridsleuth(&["-r", &bad("bad_timestamp.csv")]);
    assert_eq!(dirty.code, 1, "{}", dirty.stderr);
    assert!(dirty
        .stdout
        .contains("7 read = 4 used + 3 quarantined + 0 exact duplicates"));
    assert_eq!(dirty.dq().len(), 3);
    // `check` is an alias; --quiet prints nothing but keeps the exit code.
    let (code, out, _) = run_raw(&[
        "check",
        "-q",
        "-r",
        &bad("bad_timestamp.csv"),
        "-o",
        &arg(dirty.out.path()),
    ]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    // A parse error from clap (unknown flag) is exit 2 too.
    let (code, _, err) = run_raw(&["ingest", "--no-such-flag"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn config_run_exits_0_and_writes_reconciled_outputs() {
    let run = gridsleuth(&["--config", &sample("region.toml"), "--write-matrix"]);
    assert_eq!(
        run.code, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    // data_quality.csv: the header and no records.
    assert!(run.dq().is_empty());
    // ingest.json: every dataset reconciles, with the sample's exact counts.
    assert_eq!(run.json_counts("readings"), (134_122, 134_122, 0, 0));
    assert_eq!(run.json_counts("meters"), (200, 200, 0, 0));
    assert_eq!(run.json_counts("feeders"), (672, 672, 0, 0));
    assert_eq!(run.json_counts("weather"), (336, 336, 0, 0));
    let j = run.json();
    assert_eq!(j["grid"]["meters"], 200);
    assert_eq!(j["grid"]["slots"], 672);
    assert_eq!(j["grid"]["interval_minutes"], 30);
    assert_eq!(j["grid"]["start"], "2024-03-01T00:00:00Z");
    assert_eq!(j["feeders"], 1);
    assert_eq!(j["weather_slots_known"], 671);
    // The summary prints the same counts.
    assert!(run
        .stdout
        .contains("readings: 134122 read = 134122 used + 0 quarantined + 0 exact duplicates"));
    // matrix.parquet: present and a real Parquet file.
    let p = run.path("matrix.parquet");
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        bytes.len() > 1000,
        "matrix.parquet has {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    // Without --write-matrix there is none.
    let plain = gridsleuth(&["--config", &sample("region.toml")]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(!plain.path("matrix.parquet").exists());
}

#[test]
fn quarantined_run_writes_one_record_per_reading_with_location() {
    let run = gridsleuth(&["-r", &bad("null_values.csv")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let dq = run.dq();
    assert_eq!(dq.len(), 6);
    assert!(dq.iter().all(|r| r.dataset == "readings"
        && r.file == "null_values.csv"
        && r.column == "kwh"
        && r.meter_id == "M1"
        && r.reason == "null_value"
        && r.readings == 1));
    let rows: Vec<u64> = dq.iter().map(|r| r.row.unwrap()).collect();
    assert_eq!(rows, [5, 6, 7, 8, 9, 10]);
    // The file column is the path as given.
    let text = std::fs::read_to_string(run.path("data_quality.csv")).unwrap();
    assert!(text.contains(&bad("null_values.csv")), "{text}");
    assert_eq!(run.json_counts("readings"), (11, 5, 6, 0));
    assert_eq!(
        run.json()["datasets"][0]["quarantined_by_reason"]["null_value"],
        6
    );
}

#[test]
fn help_examples_name_existing_sample_files() {
    for sub in [
        "ingest", "run", "balance", "drop", "synth", "eval", "report",
    ] {
        let (_, out, _) = run_raw(&[sub, "--help"]);
        for word in out.split_whitespace() {
            let path = word.trim_matches(|c| c == '\'' || c == '"');
            if path.starts_with("data-samples/") && !path.contains('*') {
                assert!(
                    repo().join(path).exists(),
                    "{sub} --help names {path}, which does not exist"
                );
            }
        }
    }
}
