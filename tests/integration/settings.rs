//! The settings layer end to end through the binary: `gridsleuth config` prints the resolved
//! settings as a config file that `--config` accepts back (and that gives the same run), bad
//! `[score]`/`[cluster]`/`[balance]` values are refused with the key, the value and a fix
//! (exit 2), and `run` balances feeders with the `[balance]` table.

use std::path::Path;

use crate::support::{arg, run_raw, sample};

/// The sample region's config with `extra` appended (paths made absolute, so the file can live
/// in a temporary directory).
fn region_config_with(dir: &Path, extra: &str) -> String {
    let region = sample("region");
    let text = std::fs::read_to_string(sample("region.toml"))
        .unwrap()
        .replace("\"region/", &format!("\"{region}/"));
    let p = dir.join("c.toml");
    std::fs::write(&p, format!("{text}\n{extra}")).unwrap();
    arg(&p)
}

#[test]
fn equal_level_ramp_ends_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let c = region_config_with(
        dir.path(),
        "[score]\nlevel_from_kw = 0.9\nlevel_full_kw = 0.9\n",
    );
    let o = arg(&dir.path().join("out"));
    for cmd in ["run", "config"] {
        let (code, _, err) = run_raw(&[cmd, "--config", &c, "-o", &o, "--no-progress"]);
        assert_eq!(code, 2, "{cmd}: {err}");
        assert!(err.contains("level_full_kw"), "{cmd}: {err}");
        assert!(err.contains("0.9"), "{cmd}: {err}");
        assert_eq!(err.matches("fix:").count(), 1, "{cmd}: {err}");
    }
    assert!(!dir.path().join("out/scores.csv").exists());
}

#[test]
fn out_of_range_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        ("[score]\ncluster_weight = 1.5\n", "cluster_weight"),
        ("[score]\nstep_min_kw = 0\n", "step_min_kw"),
        ("[score]\nflat_from = 0.8\n", "flat_full"),
        ("[cluster]\nk = 0\n", "[cluster] k"),
        ("[balance]\nloss_share = 0.9\n", "loss_share"),
        ("[drop]\nconfidence = 2.0\n", "confidence"),
        ("[balance]\nloss_shar = 0.1\n", "loss_shar"),
    ] {
        let c = region_config_with(dir.path(), extra);
        let (code, _, err) = run_raw(&["config", "--config", &c]);
        assert_eq!(code, 2, "{extra}: {err}");
        assert!(err.contains(key), "{extra}: {err}");
    }
}

#[test]
fn config_prints_toml_that_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (code, first, err) = run_raw(&["config", "--config", &sample("region.toml")]);
    assert_eq!(code, 0, "{err}");
    for table in [
        "[inputs]",
        "[readings]",
        "[time]",
        "[cluster]",
        "[score]",
        "[balance]",
        "[drop]",
    ] {
        assert!(first.contains(table), "{table} missing:\n{first}");
    }
    let resolved = dir.path().join("resolved.toml");
    std::fs::write(&resolved, &first).unwrap();
    let (code, second, err) = run_raw(&["config", "--config", &arg(&resolved)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(first, second, "the printed config does not round-trip");
    // Flags are part of what is printed.
    let (_, flagged, _) = run_raw(&[
        "config",
        "--config",
        &sample("region.toml"),
        "--flag-threshold",
        "0.6",
        "--tz",
        "Europe/London",
    ]);
    assert!(flagged.contains("flag_threshold = 0.6"), "{flagged}");
    assert!(flagged.contains("tz = \"Europe/London\""), "{flagged}");

    // The resolved file gives the same run as the original.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for (cfg, out) in [(sample("region.toml"), &a), (arg(&resolved), &b)] {
        let (code, _, err) = run_raw(&[
            "run",
            "-q",
            "--no-progress",
            "--config",
            &cfg,
            "-o",
            &arg(out),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    for f in [
        "scores.csv",
        "suspects.csv",
        "feeders.csv",
        "balance_daily.csv",
    ] {
        assert!(
            std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn run_balances_feeders_with_the_balance_table() {
    let dir = tempfile::tempdir().unwrap();
    let c = region_config_with(dir.path(), "[balance]\nloss_share = 0.05\n");
    let o = dir.path().join("out");
    let (code, _, err) = run_raw(&["run", "-q", "--no-progress", "--config", &c, "-o", &arg(&o)]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(o.join("balance.json")).unwrap()).unwrap();
    assert_eq!(
        json["settings"]["loss"]["share"], 0.05,
        "{}",
        json["settings"]
    );
}

#[test]
fn drop_reads_the_drop_table() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.csv");
    std::fs::write(&events, "date,region,label\n2024-03-08,*,raid\n").unwrap();
    let o = arg(&dir.path().join("out"));
    let e = arg(&events);
    // The [drop] table of the --meter-config file sets the window ...
    let c = region_config_with(dir.path(), "[drop]\npre_days = 3\npost_days = 2\n");
    let (code, out, err) = run_raw(&["drop", "--meter-config", &c, "--events", &e, "-o", &o]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 usable days before and 2 after"), "{out}");
    // ... and a flag beats it.
    let (_, out, _) = run_raw(&[
        "drop",
        "--meter-config",
        &c,
        "--events",
        &e,
        "--pre-days",
        "4",
        "-o",
        &o,
    ]);
    assert!(out.contains("4 usable days before and 2 after"), "{out}");
}
