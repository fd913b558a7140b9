//! Events (`date,region,label`) and holidays (`date[,name]`) of the load-drop analysis: small
//! hand-written files, so a bad line is fatal, with its line number and the expected format.
//!
//! Output: [`Event`]s sorted by date (an empty region or `*` means every region but the
//! controls) and sorted, de-duplicated holiday dates.

use std::path::Path;

use chrono::NaiveDate;

use super::load_series::column;
use crate::grid_analysis::GridAnalysisError;
use crate::ingest::long_csv::find_column;

/// An enforcement event.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Event {
    pub date: NaiveDate,
    /// `None`: every region but the controls.
    pub region: Option<String>,
    pub label: String,
}

fn date_column(
    path: &Path,
    what: &str,
) -> Result<(Vec<Vec<String>>, Vec<String>), GridAnalysisError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| {
            GridAnalysisError::input(
                path,
                e.to_string(),
                format!("check the path; pass a {what} CSV"),
            )
        })?;
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| GridAnalysisError::input(path, e.to_string(), format!("pass a {what} CSV")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for r in rdr.records() {
        let r = r.map_err(|e| GridAnalysisError::input(path, e.to_string(), "check the CSV"))?;
        rows.push(r.iter().map(str::to_string).collect());
    }
    Ok((rows, headers))
}

fn parse_date(path: &Path, line: u64, s: &str) -> Result<NaiveDate, GridAnalysisError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| GridAnalysisError::Line {
        path: path.to_path_buf(),
        line,
        message: format!("date {s:?} is not YYYY-MM-DD"),
        fix: "write dates as YYYY-MM-DD, e.g. 2017-03-15".into(),
    })
}

/// Reads `date,region,label` (region and label optional), sorted by date.
pub fn read_events(path: &Path) -> Result<Vec<Event>, GridAnalysisError> {
    let (rows, headers) = date_column(path, "date,region,label")?;
    let cd = column(path, &headers, "date", "event dates")?;
    let (cr, cl) = (
        find_column(&headers, "region"),
        find_column(&headers, "label"),
    );
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let get = |c: Option<usize>| c.and_then(|c| r.get(c)).cloned().unwrap_or_default();
        let region = get(cr);
        out.push(Event {
            date: parse_date(path, i as u64 + 2, &get(Some(cd)))?,
            region: (!region.is_empty() && region != "*").then_some(region),
            label: get(cl),
        });
    }
    if out.is_empty() {
        return Err(GridAnalysisError::input(
            path,
            "no events",
            "add lines date,region,label",
        ));
    }
    out.sort_by_key(|e| e.date);
    Ok(out)
}

/// Reads the `date` column of a holidays file.
pub fn read_holidays(path: &Path) -> Result<Vec<NaiveDate>, GridAnalysisError> {
    let (rows, headers) = date_column(path, "holidays (date[,name])")?;
    let cd = column(path, &headers, "date", "holiday dates")?;
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        out.push(parse_date(
            path,
            i as u64 + 2,
            r.get(cd).map_or("", String::as_str),
        )?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn events_and_holidays() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "ev.csv",
            "date,region,label\n2017-06-01,Zone 1,raid\n2017-03-01,*,law\n",
        );
        let ev = read_events(&p).unwrap();
        assert_eq!(ev[0].region, None);
        assert_eq!(ev[1].region.as_deref(), Some("Zone 1"));
        let bad = write(dir.path(), "bad.csv", "date,region\n01/06/2017,A\n");
        let e = read_events(&bad).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("YYYY-MM-DD"), "{e}");
        let h = write(
            dir.path(),
            "h.csv",
            "date,name\n2017-01-11,Manifesto\n2017-01-01,New year\n",
        );
        assert_eq!(read_holidays(&h).unwrap()[0].to_string(), "2017-01-01");
    }
}
