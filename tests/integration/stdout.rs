//! Standard output of the binary: a closed pipe (`gridsleuth run ... | head -1`) is success; any
//! other write failure (`> /dev/full`) is reported, exit 2, with one fix line.

use std::process::{Command, Stdio};

use crate::support::{repo, sample};

#[test]
fn a_closed_pipe_is_success() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridsleuth"))
        .args([
            "run",
            "--no-progress",
            "--config",
            &sample("region.toml"),
            "-o",
        ])
        .arg(tmp.path())
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(tmp.path().join("scores.csv").exists());
}

#[test]
fn a_full_disk_is_an_error() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // not Linux
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gridsleuth"))
        .args(["config", "--config", &sample("region.toml")])
        .current_dir(repo())
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("standard output"), "{err}");
    assert_eq!(err.matches("fix:").count(), 1, "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_gridsleuth"))
        .args([
            "run",
            "--no-progress",
            "--config",
            &sample("region.toml"),
            "-o",
        ])
        .arg(tmp.path())
        .current_dir(repo())
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("output"), "{err}");
}
