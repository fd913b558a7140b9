//! The memory budget: every allocation whose size the input decides (the accumulator's arena of
//! meter rows, the meters themselves, the matrix and its copy, the meters file) is estimated
//! before it is made and checked against it. Over budget is a [`BudgetError`] naming what is too
//! large and the fix (exit 2), never an allocation failure that aborts the process or an OOM
//! kill.
//!
//! The default is a share ([`DEFAULT_SHARE`]) of the memory this process may use: the smallest
//! of the machine's physical memory (`/proc/meminfo`), its cgroup's limit
//! (`/sys/fs/cgroup/memory.max`, v1's `memory.limit_in_bytes`) and its address-space limit
//! (`ulimit -v`, from `/proc/self/limits`). Where none of them can be read (not Linux), 16 GiB.

use std::sync::OnceLock;

/// Share of the available memory taken by default: the rest is for the stages after ingest
/// (features hold about a tenth of the matrix more), the program and the page cache.
pub const DEFAULT_SHARE: f64 = 0.75;

/// Used when no limit can be read.
pub const FALLBACK_BYTES: u64 = 16 << 30;

/// A limit on the bytes that input-sized allocations may take together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    pub bytes: u64,
}

impl Default for MemoryBudget {
    /// [`DEFAULT_SHARE`] of [`available_memory`].
    fn default() -> Self {
        MemoryBudget::share(DEFAULT_SHARE)
    }
}

/// An allocation the budget does not allow.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{what} needs {}, over the memory budget of {}{}\n  fix: {fix}",
    bytes_text(*needed),
    bytes_text(*budget),
    budget_origin(*budget)
)]
pub struct BudgetError {
    /// What is too large, e.g. "a grid of 20000 meters x 596000 slots".
    pub what: String,
    pub needed: u64,
    pub budget: u64,
    pub fix: String,
}

fn budget_origin(budget: u64) -> String {
    if budget == MemoryBudget::default().bytes {
        format!(
            " ({:.0}% of the {} this process may use)",
            DEFAULT_SHARE * 100.0,
            bytes_text(available_memory())
        )
    } else {
        String::new()
    }
}

impl MemoryBudget {
    /// No limit (tests, tools that check elsewhere).
    pub fn unlimited() -> Self {
        MemoryBudget { bytes: u64::MAX }
    }

    /// `share` of [`available_memory`].
    pub fn share(share: f64) -> Self {
        MemoryBudget {
            bytes: (available_memory() as f64 * share.clamp(0.0, 1.0)) as u64,
        }
    }

    /// `Ok` when `bytes` fit; else the error naming `what` and the `fix`.
    pub fn check(
        &self,
        bytes: u64,
        what: impl FnOnce() -> String,
        fix: &str,
    ) -> Result<(), BudgetError> {
        if bytes <= self.bytes {
            Ok(())
        } else {
            Err(BudgetError {
                what: what(),
                needed: bytes,
                budget: self.bytes,
                fix: fix.to_string(),
            })
        }
    }

    /// How many `T` fit in what is left after `used` bytes.
    pub fn room_for<T>(&self, used: u64) -> usize {
        let left = self.bytes.saturating_sub(used);
        usize::try_from(left / std::mem::size_of::<T>().max(1) as u64).unwrap_or(usize::MAX)
    }
}

/// Bytes this process may use: the smallest of physical memory, the cgroup limit and the
/// address-space limit that can be read (read once).
pub fn available_memory() -> u64 {
    static AVAILABLE: OnceLock<u64> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let limits = [meminfo_total(), cgroup_limit(), address_space_limit()];
        limits.into_iter().flatten().min().unwrap_or(FALLBACK_BYTES)
    })
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// `MemTotal:  24576000 kB` of `/proc/meminfo`.
fn meminfo_total() -> Option<u64> {
    parse_meminfo(&read("/proc/meminfo")?)
}

fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// cgroup v2 `memory.max` (`max` = none), else v1 `memory.limit_in_bytes` (huge = none).
fn cgroup_limit() -> Option<u64> {
    let v2 = read("/sys/fs/cgroup/memory.max")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&b| b > 0);
    v2.or_else(|| {
        read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&b| b > 0 && b < (1 << 60))
    })
}

/// The soft `Max address space` of `/proc/self/limits` (`ulimit -v`), `unlimited` = none.
fn address_space_limit() -> Option<u64> {
    parse_limits(&read("/proc/self/limits")?)
}

fn parse_limits(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line.trim_start_matches("Max address space")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `6.4 GB`, `512 MB`, `800 bytes` (decimal units, as `ls -h --si` and the README).
pub fn bytes_text(b: u64) -> String {
    let x = b as f64;
    if b == u64::MAX {
        "unlimited".into()
    } else if x >= 1e12 {
        format!("{:.1} TB", x / 1e12)
    } else if x >= 1e9 {
        format!("{:.1} GB", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.0} MB", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0} kB", x / 1e3)
    } else {
        format!("{b} bytes")
    }
}

/// Parses a budget: `8G`, `8GB`, `8GiB`, `512M`, `1.5T`, `4000000000` (bytes), or `60%` of the
/// memory this process may use. Units are binary (`G` = 2^30 bytes); `None` when unreadable or
/// zero.
pub fn parse_budget(s: &str) -> Option<MemoryBudget> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        let share: f64 = p.trim().parse().ok()?;
        return (share > 0.0 && share <= 100.0).then(|| MemoryBudget::share(share / 100.0));
    }
    let lower = t.to_ascii_lowercase();
    let num_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(num_end);
    let v: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = v * mult;
    (1.0..1.8e19).contains(&bytes).then_some(MemoryBudget {
        bytes: bytes as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_parse() {
        assert_eq!(parse_budget("8G").map(|b| b.bytes), Some(8 << 30));
        assert_eq!(parse_budget("8 GiB").map(|b| b.bytes), Some(8 << 30));
        assert_eq!(parse_budget("512m").map(|b| b.bytes), Some(512 << 20));
        assert_eq!(parse_budget("1.5G").map(|b| b.bytes), Some(3 << 29));
        assert_eq!(parse_budget("4000").map(|b| b.bytes), Some(4000));
        assert!(parse_budget("50%").is_some_and(|b| b.bytes > 0));
        for bad in ["", "G", "0", "-1G", "8X", "150%", "0%", "1e30", "nan"] {
            assert_eq!(parse_budget(bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_are_read_from_proc_text() {
        assert_eq!(
            parse_meminfo("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24_576_000 * 1024)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         8589934592           unlimited            bytes\n";
        assert_eq!(parse_limits(limits), Some(8_589_934_592));
        let none = "Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(parse_limits(none), None);
        assert!(available_memory() > 0);
    }

    #[test]
    fn over_budget_names_what_and_the_fix() {
        let b = MemoryBudget { bytes: 1_000_000 };
        assert!(b.check(1_000_000, || unreachable!(), "").is_ok());
        let e = b
            .check(
                48_000_000_000,
                || "a grid of 10 meters".into(),
                "set --start/--end",
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a grid of 10 meters needs 48.0 GB, over the memory budget of 1 MB\n  fix: set --start/--end"
        );
        assert_eq!(b.room_for::<f32>(600_000), 100_000);
    }
}
