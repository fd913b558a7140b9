//! The subcommands: `gridsleuth balance` ([`run_balance`]), `gridsleuth drop` ([`run_drop`]),
//! and the balance step of `gridsleuth run` when feeders are given ([`balance_for_run`]).
//!
//! Each takes validated options ([`BalanceOptions`], [`DropOptions`]; `crate::settings` makes
//! them from flags and the config file), reads, analyses, writes its files into the output
//! folder, prints a short summary to `out` and returns a [`CommandSummary`] (whether input rows
//! were quarantined or skipped: exit 1 rather than 0). Usable without the binary.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::balance::output::{local_time, ranked, write_balance, ChartSelection};
use super::balance::{balance, BalanceConfig, BalanceReport, LossSource};
use super::drop::aggregate::{daily_from_ingest, GroupBy};
use super::drop::events::{read_events, read_holidays};
use super::drop::load_series::{read_load, read_weather, LoadSeriesSpec, TimeLayout};
use super::drop::output::{headline, write_drop};
use super::drop::{analyse, DropConfig};
use super::GridAnalysisError;
use crate::ingest::quality::write_quality_csv;
use crate::ingest::{self, IngestOptions, Ingested, QualityLog};
use crate::output::atomic::StagedDir;
use crate::output::console::ConsoleError;
use crate::output::summary::IngestReport;

/// Validated options of `gridsleuth balance`.
#[derive(Debug, Clone)]
pub struct BalanceOptions {
    pub ingest: IngestOptions,
    /// Output folder.
    pub out: PathBuf,
    pub balance: BalanceConfig,
    pub charts: ChartSelection,
    /// Also write `balance_slots.csv`.
    pub write_slots: bool,
}

/// Where the daily regional load of `drop` comes from.
#[derive(Debug, Clone)]
pub enum DropInput {
    /// A regional load CSV.
    Series(LoadSeriesSpec),
    /// Meter readings (through ingest), grouped into regions.
    Meters {
        ingest: Box<IngestOptions>,
        group_by: GroupBy,
    },
}

/// Validated options of `gridsleuth drop`.
#[derive(Debug, Clone)]
pub struct DropOptions {
    pub input: DropInput,
    pub model: DropConfig,
    /// Events CSV: date,region,label.
    pub events: PathBuf,
    /// Holidays CSV with a `date` column.
    pub holidays: Option<PathBuf>,
    /// Weather CSV, when the load has no temperature.
    pub weather: Option<PathBuf>,
    /// Output folder.
    pub out: PathBuf,
    /// Draw the per-region charts.
    pub charts: bool,
}

/// How a command went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSummary {
    /// Some input rows were quarantined (balance) or skipped (drop): exit 1.
    pub quarantined: bool,
    pub files: Vec<PathBuf>,
}

fn logs(ing: &Ingested) -> Vec<&QualityLog> {
    let mut v = vec![&ing.quality];
    if let Some((_, q)) = &ing.meters {
        v.push(q);
    }
    if let Some(f) = &ing.feeders {
        v.push(&f.quality);
    }
    if let Some((_, q)) = &ing.weather {
        v.push(q);
    }
    v
}

/// Ingests, writing `data_quality.csv` (also when nothing was usable) and `ingest.json`.
fn ingest_into(
    opts: &IngestOptions,
    dir: &Path,
) -> Result<(Ingested, IngestReport), GridAnalysisError> {
    std::fs::create_dir_all(dir).map_err(|e| GridAnalysisError::write(dir, e))?;
    let dq = dir.join("data_quality.csv");
    let ing = match ingest::load(opts) {
        Ok(ing) => ing,
        Err(ingest::IngestError::Empty { what, mut quality }) => {
            quality.sort();
            write_quality_csv(&[&quality], &dq).map_err(|e| GridAnalysisError::write(&dq, e))?;
            return Err(ingest::IngestError::Empty { what, quality }.into());
        }
        Err(e) => return Err(e.into()),
    };
    write_quality_csv(&logs(&ing), &dq).map_err(|e| GridAnalysisError::write(&dq, e))?;
    let report = IngestReport::of(&ing);
    let jp = dir.join("ingest.json");
    let json = serde_json::to_vec_pretty(&report).map_err(|e| GridAnalysisError::write(&jp, e))?;
    super::write_file(&jp, &json)?;
    Ok((ing, report))
}

/// Starts a staged output folder (see `crate::output::atomic`).
fn begin_staged(dir: &Path) -> Result<StagedDir, GridAnalysisError> {
    StagedDir::begin(dir).map_err(|e| GridAnalysisError::write(dir, e))
}

fn commit_staged(s: StagedDir) -> Result<(), GridAnalysisError> {
    let t = s.target().to_path_buf();
    s.commit().map_err(|e| GridAnalysisError::write(&t, e))
}

/// [`ingest_into`] the staged folder; when nothing was usable the folder (data_quality.csv, the
/// record of why) is put in place before the error is returned.
fn staged_ingest(
    opts: &IngestOptions,
    staged: StagedDir,
) -> Result<(StagedDir, Ingested, IngestReport), GridAnalysisError> {
    match ingest_into(opts, staged.path()) {
        Ok((ing, rep)) => Ok((staged, ing, rep)),
        Err(e @ GridAnalysisError::Ingest(ingest::IngestError::Empty { .. })) => {
            commit_staged(staged)?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Paths under the staged folder, as they are named once it is in place.
fn in_target(files: Vec<PathBuf>, tmp: &Path, target: &Path) -> Vec<PathBuf> {
    files
        .into_iter()
        .map(|f| match f.strip_prefix(tmp) {
            Ok(rest) => target.join(rest),
            Err(_) => f,
        })
        .collect()
}

/// Summary lines of a balance: totals, then each flagged feeder, then the notes.
pub fn balance_text(rep: &BalanceReport) -> String {
    let flagged: Vec<_> = ranked(rep)
        .into_iter()
        .filter(|f| f.finding.flagged)
        .collect();
    let mut s = format!(
        "balance: {} feeders, {} flagged ({})\n",
        rep.feeders.len(),
        flagged.len(),
        losses_summary(rep)
    );
    for fb in &flagged {
        let f = &fb.finding;
        let when = match f.main_step.and_then(|i| fb.steps.get(i)) {
            Some(st) => format!("since {}", local_time(rep, st.at)),
            None => "all window".to_string(),
        };
        let dev = match (f.devices, f.device_model) {
            (Some(n), Some(m)) => format!(", ~{n} x {m}"),
            _ => String::new(),
        };
        s.push_str(&format!(
            "  {:<10} ~{:.1} kW hidden {when}, rig-likeness {:.2}{dev}\n",
            fb.feeder_id, f.hidden_kw, f.rig_likeness
        ));
        s.push_str(&format!("             {}\n", fb.losses.text()));
        for c in f.candidates.iter().take(3) {
            s.push_str(&format!("             candidate {}\n", c.text(&rep.dates)));
        }
    }
    for n in &rep.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    s
}

/// The loss models of a balance in a few words: how many feeders have a fitted curve and the
/// range of their loss shares, and the fixed model where it is used.
fn losses_summary(rep: &BalanceReport) -> String {
    let l = &rep.config.loss;
    let fixed = format!(
        "{:.1}% + {:.1}% at mean load{}",
        100.0 * l.share(),
        100.0 * l.quadratic(),
        if l.fixed_kw() > 0.0 {
            format!(" + {:.1} kW", l.fixed_kw())
        } else {
            String::new()
        }
    );
    if !rep.config.loss_fit.fit {
        return format!("technical losses {fixed}");
    }
    let mut shares: Vec<f64> = rep
        .feeders
        .iter()
        .filter(|f| f.losses.source != LossSource::FixedFallback && f.losses.share.is_finite())
        .map(|f| f.losses.share)
        .collect();
    shares.sort_by(f64::total_cmp);
    let n_fixed = rep.feeders.len() - shares.len();
    let mut s = format!(
        "technical losses fitted per feeder ({} of {})",
        shares.len(),
        rep.feeders.len()
    );
    if let (Some(lo), Some(hi)) = (shares.first(), shares.last()) {
        let mid = shares[shares.len() / 2];
        s.push_str(&format!(
            ": median {:.1}% of input, range {:.1}-{:.1}%",
            100.0 * mid,
            100.0 * lo,
            100.0 * hi
        ));
    }
    if n_fixed > 0 {
        s.push_str(&format!(
            "; fixed model {fixed} on {n_fixed} (too little data)"
        ));
    }
    s
}

/// `gridsleuth balance`.
pub fn run_balance(
    opts: &BalanceOptions,
    out: &mut dyn Write,
) -> Result<CommandSummary, GridAnalysisError> {
    let dir = &opts.out;
    let (staged, ing, report) = staged_ingest(&opts.ingest, begin_staged(dir)?)?;
    let tmp = staged.path().to_path_buf();
    let rep = balance(&ing, &opts.balance)?;
    let files = write_balance(&rep, &tmp, opts.charts, opts.write_slots)?;
    commit_staged(staged)?;
    write!(out, "{}{}", report.text(), balance_text(&rep)).map_err(ConsoleError)?;
    writeln!(
        out,
        "wrote {} (feeders.csv, balance_daily.csv, balance.json, charts/)",
        dir.display()
    )
    .map_err(ConsoleError)?;
    Ok(CommandSummary {
        quarantined: report.any_quarantined(),
        files: in_target(files, &tmp, dir),
    })
}

/// The balance step of `gridsleuth run`: when the ingest has feeder series and meters with a
/// feeder id, balances with `cfg` (default settings, `tz` of the run), writes the balance files
/// into `dir` with charts of flagged feeders only, prints [`balance_text`], and returns the
/// report; `Ok(None)` when there is nothing to balance. `cfg` comes from the config file's
/// `[balance]` table.
pub fn balance_for_run(
    ing: &Ingested,
    cfg: &BalanceConfig,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<Option<BalanceReport>, GridAnalysisError> {
    let has_ids = ing.meters.as_ref().is_some_and(|(t, _)| {
        t.rows()
            .iter()
            .any(|m| m.feeder_id.as_deref().is_some_and(|f| !f.is_empty()))
    });
    if ing.feeders.is_none() || !has_ids {
        return Ok(None);
    }
    let rep = balance(ing, cfg)?;
    write_balance(&rep, dir, ChartSelection::Flagged, false)?;
    write!(out, "{}", balance_text(&rep)).map_err(ConsoleError)?;
    Ok(Some(rep))
}

/// `gridsleuth drop`.
pub fn run_drop(
    args: &DropOptions,
    out: &mut dyn Write,
) -> Result<CommandSummary, GridAnalysisError> {
    let cfg = &args.model;
    let mut ingest_quarantined = false;
    let mut staged = begin_staged(&args.out)?;
    let tmp = staged.path().to_path_buf();
    let (mut load, time, tz) = match &args.input {
        DropInput::Series(spec) => (read_load(spec)?, spec.time.clone(), spec.tz),
        DropInput::Meters {
            ingest: opts,
            group_by,
        } => {
            // Readings go through ingest as for `run`: data_quality.csv and ingest.json too.
            let (s, ing, report) = staged_ingest(opts, staged)?;
            staged = s;
            ingest_quarantined = report.any_quarantined();
            let tz = opts.long.time.tz;
            (daily_from_ingest(&ing, *group_by, tz), TimeLayout::Iso, tz)
        }
    };
    if let Some(w) = &args.weather {
        if !load.temp_c.is_empty() {
            return Err(GridAnalysisError::option(
                "--weather",
                "temperature is given twice (--temp-col or the config's weather, and --weather)",
                "keep one of them",
            ));
        }
        load.temp_c = read_weather(w, &time, tz, &mut load)?;
    }
    let events = read_events(&args.events)?;
    let holidays = match &args.holidays {
        Some(p) => read_holidays(p)?,
        None => Vec::new(),
    };
    let rep = analyse(&load, &events, &holidays, cfg)?;
    let files = write_drop(&rep, &load, &tmp, !args.charts)?;
    commit_staged(staged)?;
    let files = in_target(files, &tmp, &args.out);
    let skipped: u64 = load.skipped.values().sum();
    writeln!(
        out,
        "load: {} regions x {} days ({} .. {}), {} rows read, {skipped} values skipped{}",
        load.regions.len(),
        load.dates.len(),
        load.dates
            .first()
            .map_or(String::new(), ToString::to_string),
        load.dates.last().map_or(String::new(), ToString::to_string),
        load.rows_read,
        if load.temp_c.is_empty() {
            "; no temperature"
        } else {
            "; with temperature"
        }
    )
    .map_err(ConsoleError)?;
    if let Some((read, used)) = load.weather_rows {
        writeln!(
            out,
            "weather: {read} rows read = {used} used + {} skipped",
            read - used
        )
        .map_err(ConsoleError)?;
    }
    for ex in &load.examples {
        writeln!(out, "  skipped {ex}").map_err(ConsoleError)?;
    }
    for e in &rep.estimates {
        writeln!(out, "{}: {}", e.region, headline(e, cfg.confidence)).map_err(ConsoleError)?;
        if let Some(cp) = &e.changepoint {
            writeln!(
                out,
                "  change-point {} ({:+} days from the event, {:+.2} MW, t {:.1}){}",
                cp.date,
                cp.days_from_event,
                cp.change_mw,
                cp.t,
                if cp.agrees { ": agrees" } else { "" }
            )
            .map_err(ConsoleError)?;
        }
        if e.temperature_extrapolated {
            writeln!(out, "  note: post-event temperatures lie outside the pre-event range (the model extrapolates)").map_err(ConsoleError)?;
        }
    }
    for s in &rep.skipped {
        writeln!(out, "not estimated: {s}").map_err(ConsoleError)?;
    }
    writeln!(
        out,
        "wrote {} (drop_estimates.csv, drop_daily.csv, drop.json, charts/)",
        args.out.display()
    )
    .map_err(ConsoleError)?;
    Ok(CommandSummary {
        quarantined: skipped > 0 || ingest_quarantined,
        files,
    })
}
