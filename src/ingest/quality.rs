//! The data-quality log: every reading that is not used is accounted for here.
//!
//! Readers and the accumulator call [`QualityLog::reject`] for each quarantined reading (or group
//! of readings sharing one cause, e.g. a wide row with a bad date) with its file, row, column and
//! [`Reason`]. Counts reconcile by construction:
//! `readings_read == readings_used + readings_quarantined + exact_duplicates`,
//! which [`QualityLog::reconciles`] checks and the CLI prints.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a reading (or a whole meter) was quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    BadTimestamp,
    NonNumeric,
    NullValue,
    NotFinite,
    Negative,
    AbovePhysicalMax,
    ConflictingDuplicate,
    UnknownMeter,
    OutsideWindow,
    OffInterval,
    WrongInterval,
    DstAmbiguous,
    DstGap,
    MissingMeterId,
    ShortRow,
    UnsupportedChannel,
    BadMetadata,
    DuplicateMetadata,
    TooFewReadings,
    /// Far outside the dense span of the data or of its meter (1990, 2999 in a month of 2024).
    StrayTimestamp,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadTimestamp => "bad_timestamp",
            Reason::NonNumeric => "non_numeric",
            Reason::NullValue => "null_value",
            Reason::NotFinite => "not_finite",
            Reason::Negative => "negative",
            Reason::AbovePhysicalMax => "above_physical_max",
            Reason::ConflictingDuplicate => "conflicting_duplicate",
            Reason::UnknownMeter => "unknown_meter",
            Reason::OutsideWindow => "outside_window",
            Reason::OffInterval => "off_interval",
            Reason::WrongInterval => "wrong_interval",
            Reason::DstAmbiguous => "dst_ambiguous",
            Reason::DstGap => "dst_gap",
            Reason::MissingMeterId => "missing_meter_id",
            Reason::ShortRow => "short_row",
            Reason::UnsupportedChannel => "unsupported_channel",
            Reason::BadMetadata => "bad_metadata",
            Reason::DuplicateMetadata => "duplicate_metadata",
            Reason::TooFewReadings => "too_few_readings",
            Reason::StrayTimestamp => "stray_timestamp",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a reading came from: file index into [`QualityLog::files`] and 1-based line/row number
/// (the header is row 1 for CSV; Parquet rows are numbered from 1 over data rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowLoc {
    pub file: u32,
    pub row: u64,
}

impl RowLoc {
    /// Packs into a u64 (16 bits file, 48 bits row) for compact per-reading storage.
    pub(crate) fn pack(self) -> u64 {
        (u64::from(self.file) << 48) | (self.row & ((1 << 48) - 1))
    }
    pub(crate) fn unpack(v: u64) -> Self {
        RowLoc {
            file: (v >> 48) as u32,
            row: v & ((1 << 48) - 1),
        }
    }
}

/// Records listed one by one for each reason; readings quarantined for the same reason beyond
/// them are counted in one summary line of `data_quality.csv` (a file read with the wrong
/// `--timestamp-format` must not hold 10^8 records in memory).
pub const MAX_LISTED_PER_REASON: u64 = 50_000;

/// One data-quality record (a line of `data_quality.csv`).
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub file: u32,
    /// 0 when the issue concerns a whole meter rather than a row.
    pub row: u64,
    pub column: &'static str,
    pub meter_id: String,
    pub reason: Reason,
    pub detail: String,
    /// Readings this record accounts for (1 for a long-form row).
    pub readings: u64,
}

/// The log of quarantined readings and the reconciled counts.
#[derive(Debug, Clone)]
pub struct QualityLog {
    /// Which input this log covers: `readings`, `meters`, `feeders`, `weather`.
    pub dataset: &'static str,
    files: Vec<PathBuf>,
    issues: Vec<Issue>,
    pub readings_read: u64,
    pub readings_used: u64,
    pub exact_duplicates: u64,
    quarantined: BTreeMap<Reason, u64>,
    /// Records listed per reason, and readings quarantined beyond [`MAX_LISTED_PER_REASON`].
    listed: BTreeMap<Reason, u64>,
    unlisted: BTreeMap<Reason, u64>,
    /// Notes that reject nothing (e.g. metadata meters without readings), shown in the summary.
    pub notes: Vec<String>,
}

impl Default for QualityLog {
    fn default() -> Self {
        QualityLog::new("readings")
    }
}

impl QualityLog {
    pub fn new(dataset: &'static str) -> Self {
        QualityLog {
            dataset,
            files: Vec::new(),
            issues: Vec::new(),
            readings_read: 0,
            readings_used: 0,
            exact_duplicates: 0,
            quarantined: BTreeMap::new(),
            listed: BTreeMap::new(),
            unlisted: BTreeMap::new(),
            notes: Vec::new(),
        }
    }

    /// Registers an input file and returns its index for [`RowLoc`].
    pub fn add_file(&mut self, path: &Path) -> u32 {
        self.files.push(path.to_path_buf());
        (self.files.len() - 1) as u32
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    pub fn file(&self, idx: u32) -> &Path {
        &self.files[idx as usize]
    }

    /// Quarantines `readings` readings at `loc` for `reason`.
    #[allow(clippy::too_many_arguments)]
    pub fn reject(
        &mut self,
        loc: RowLoc,
        column: &'static str,
        meter_id: &str,
        reason: Reason,
        detail: impl Into<String>,
        readings: u64,
    ) {
        *self.quarantined.entry(reason).or_default() += readings;
        let listed = self.listed.entry(reason).or_default();
        if *listed >= MAX_LISTED_PER_REASON {
            *self.unlisted.entry(reason).or_default() += readings;
            return;
        }
        *listed += 1;
        self.issues.push(Issue {
            file: loc.file,
            row: loc.row,
            column,
            meter_id: meter_id.to_string(),
            reason,
            detail: detail.into(),
            readings,
        });
    }

    /// Moves `readings` already counted as used to quarantined (a meter rejected at the end).
    pub fn unuse(&mut self, readings: u64) {
        self.readings_used -= readings;
    }

    pub fn readings_quarantined(&self) -> u64 {
        self.quarantined.values().sum()
    }

    pub fn quarantined_by_reason(&self) -> &BTreeMap<Reason, u64> {
        &self.quarantined
    }

    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// Readings quarantined beyond the [`MAX_LISTED_PER_REASON`] records listed, per reason.
    pub fn unlisted(&self) -> &BTreeMap<Reason, u64> {
        &self.unlisted
    }

    /// `read == used + quarantined + exact duplicates`.
    pub fn reconciles(&self) -> bool {
        self.readings_read
            == self.readings_used + self.readings_quarantined() + self.exact_duplicates
    }

    /// Adds the log of another part of the same input read with the same files (a streamed
    /// run's next chunk of row groups; its files are matched to this log's by path): counts add up, records are listed up to
    /// [`MAX_LISTED_PER_REASON`] per reason over both (the rest counted as unlisted), notes are
    /// appended. Sort afterwards for the order of one log over the whole input.
    pub fn absorb(&mut self, other: QualityLog) {
        self.readings_read += other.readings_read;
        self.readings_used += other.readings_used;
        self.exact_duplicates += other.exact_duplicates;
        for (r, n) in other.quarantined {
            *self.quarantined.entry(r).or_default() += n;
        }
        for (r, n) in other.unlisted {
            *self.unlisted.entry(r).or_default() += n;
        }
        // The other log's file indices, as this log's.
        let file_idx: Vec<u32> = other
            .files
            .iter()
            .map(|f| match self.files.iter().position(|x| x == f) {
                Some(i) => i as u32,
                None => {
                    self.files.push(f.clone());
                    (self.files.len() - 1) as u32
                }
            })
            .collect();
        for mut issue in other.issues {
            if let Some(&i) = file_idx.get(issue.file as usize) {
                issue.file = i;
            }
            let listed = self.listed.entry(issue.reason).or_default();
            if *listed >= MAX_LISTED_PER_REASON {
                *self.unlisted.entry(issue.reason).or_default() += issue.readings;
            } else {
                *listed += 1;
                self.issues.push(issue);
            }
        }
        self.notes.extend(other.notes);
    }

    /// Sorts issues by file, row, reason so the output is stable across runs and thread counts.
    pub fn sort(&mut self) {
        self.issues.sort_by(|a, b| {
            (a.file, a.row, a.reason, &a.meter_id).cmp(&(b.file, b.row, b.reason, &b.meter_id))
        });
    }
}

/// Header of `data_quality.csv`.
pub const QUALITY_HEADER: [&str; 8] = [
    "dataset", "file", "row", "column", "meter_id", "reason", "readings", "detail",
];

/// `data_quality.csv` for several logs: one line per record, in log order.
pub fn quality_csv(logs: &[&QualityLog]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(QUALITY_HEADER)?;
    for log in logs {
        for i in &log.issues {
            let row = if i.row == 0 {
                String::new()
            } else {
                i.row.to_string()
            };
            let file = log
                .files
                .get(i.file as usize)
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            w.write_record([
                log.dataset,
                file.as_str(),
                &row,
                i.column,
                &i.meter_id,
                i.reason.as_str(),
                &i.readings.to_string(),
                &i.detail,
            ])?;
        }
        for (reason, n) in &log.unlisted {
            let detail = format!(
                "{n} more readings quarantined as {reason}, not listed one by one (the first \
                 {MAX_LISTED_PER_REASON} records are)"
            );
            w.write_record([
                log.dataset,
                "",
                "",
                "",
                "",
                reason.as_str(),
                &n.to_string(),
                &detail,
            ])?;
        }
    }
    w.flush()?;
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Writes `data_quality.csv` for `logs` to `path`.
pub fn write_quality_csv(logs: &[&QualityLog], path: &Path) -> std::io::Result<()> {
    let bytes = quality_csv(logs).map_err(std::io::Error::other)?;
    let mut f = std::fs::File::create(path)?;
    f.write_all(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reconcile_and_csv_lists_every_record() {
        let mut q = QualityLog::default();
        let f = q.add_file(Path::new("a.csv"));
        q.readings_read = 5;
        q.readings_used = 3;
        q.exact_duplicates = 1;
        assert!(!q.reconciles());
        q.reject(
            RowLoc { file: f, row: 7 },
            "kwh",
            "M1",
            Reason::Negative,
            "-1",
            1,
        );
        assert!(q.reconciles());
        let csv = String::from_utf8(quality_csv(&[&q]).unwrap()).unwrap();
        assert_eq!(
            csv,
            "dataset,file,row,column,meter_id,reason,readings,detail\nreadings,a.csv,7,kwh,M1,negative,1,-1\n"
        );
    }

    #[test]
    fn absorbed_logs_add_up_as_one_log_over_both_parts() {
        // One file read in two parts (a streamed run's chunks), against one read of it all.
        let part = |rows: std::ops::Range<u64>, extra_file: bool| {
            let mut q = QualityLog::default();
            if extra_file {
                q.add_file(Path::new("other.csv"));
            }
            let f = q.add_file(Path::new("a.parquet"));
            for row in rows {
                q.readings_read += 2;
                q.readings_used += 1;
                q.reject(
                    RowLoc { file: f, row },
                    "kwh",
                    "M",
                    Reason::Negative,
                    "-1",
                    1,
                );
            }
            q
        };
        let mut whole = part(1..(MAX_LISTED_PER_REASON + 4), false);
        let mut a = part(1..10, false);
        a.absorb(part(10..(MAX_LISTED_PER_REASON + 4), true));
        a.sort();
        whole.sort();
        assert!(a.reconciles());
        assert_eq!(a.readings_read, whole.readings_read);
        assert_eq!(a.quarantined_by_reason(), whole.quarantined_by_reason());
        assert_eq!(a.unlisted(), whole.unlisted());
        assert_eq!(a.unlisted()[&Reason::Negative], 3);
        // The second part's file index is mapped to the first's.
        assert_eq!(a.files().len(), 2);
        assert!(a
            .issues()
            .iter()
            .all(|i| a.file(i.file) == Path::new("a.parquet")));
        assert_eq!(quality_csv(&[&a]).unwrap(), quality_csv(&[&whole]).unwrap());
    }

    #[test]
    fn records_beyond_the_cap_are_counted_in_one_line() {
        let mut q = QualityLog::default();
        let f = q.add_file(Path::new("a.csv"));
        let n = MAX_LISTED_PER_REASON + 5;
        q.readings_read = n + 1;
        for row in 0..n {
            q.reject(
                RowLoc { file: f, row },
                "timestamp",
                "M1",
                Reason::BadTimestamp,
                "x",
                1,
            );
        }
        q.reject(
            RowLoc { file: f, row: 1 },
            "kwh",
            "M1",
            Reason::Negative,
            "-1",
            1,
        );
        assert!(q.reconciles());
        assert_eq!(q.issues().len() as u64, MAX_LISTED_PER_REASON + 1);
        assert_eq!(q.unlisted().get(&Reason::BadTimestamp), Some(&5));
        let csv = String::from_utf8(quality_csv(&[&q]).unwrap()).unwrap();
        let last = csv.lines().last().unwrap();
        assert!(
            last.starts_with(
                "readings,,,,,bad_timestamp,5,\"5 more readings quarantined as bad_timestamp"
            ),
            "{last}"
        );
    }

    #[test]
    fn rowloc_packs_round_trip() {
        let l = RowLoc {
            file: 513,
            row: 123_456_789_012,
        };
        assert_eq!(RowLoc::unpack(l.pack()), l);
    }
}
