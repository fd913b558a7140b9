//! Cases: a flagged meter's case carries over from night to night. Pure logic, from the
//! previous state of every case (its latest night before tonight), tonight's flagged meters
//! and the inspection outcomes, to tonight's state of every case ([`advance`]).
//!
//! - A case's id is its meter and onset (`M123@2024-03-02`; the night it opened when no onset
//!   is known), fixed when it opens: a later night's onset estimate does not move it.
//! - `new`: flagged tonight for the first time. `persisting`: flagged again. `escalating`: its
//!   estimated kW rose by more than `escalate_share` over its previous maximum, or more devices
//!   (a new step). `vanished`: no longer flagged (the rig stopped, or went dark after a notice);
//!   shown with the date for `keep_vanished_nights`, then `expired` (kept, not shown); flagged
//!   again before that it is `persisting` again.
//! - `closed`: by an outcome dated on or before the night: `mining_confirmed`, `no_mining`
//!   (the meter is then suppressed: flagged again with about the same level, within
//!   `suppress_share`, and no more devices, it opens no case; a material change opens a new
//!   one) or `licensed` (the meter joins the registered list). `no_access` keeps the case,
//!   marked.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;

/// A case's state on one night.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    New,
    Escalating,
    Persisting,
    Vanished,
    Closed,
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Escalating => "escalating",
            State::Persisting => "persisting",
            State::Vanished => "vanished",
            State::Closed => "closed",
            State::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "new" => State::New,
            "escalating" => State::Escalating,
            "persisting" => State::Persisting,
            "vanished" => State::Vanished,
            "closed" => State::Closed,
            "expired" => State::Expired,
            _ => return None,
        })
    }
    /// Open: still on the list for inspectors.
    pub fn is_open(self) -> bool {
        matches!(self, State::New | State::Escalating | State::Persisting)
    }
}

/// Inspection outcome kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    MiningConfirmed,
    NoMining,
    NoAccess,
    Licensed,
}

impl OutcomeKind {
    pub const ALL: [&'static str; 4] = ["mining_confirmed", "no_mining", "no_access", "licensed"];
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::MiningConfirmed => "mining_confirmed",
            OutcomeKind::NoMining => "no_mining",
            OutcomeKind::NoAccess => "no_access",
            OutcomeKind::Licensed => "licensed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mining_confirmed" => OutcomeKind::MiningConfirmed,
            "no_mining" => OutcomeKind::NoMining,
            "no_access" => OutcomeKind::NoAccess,
            "licensed" => OutcomeKind::Licensed,
            _ => return None,
        })
    }
}

/// A case on one night (also its row of `case_nights`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseNight {
    pub case_id: String,
    pub meter_id: String,
    pub onset: Option<String>,
    pub opened: NaiveDate,
    pub night: NaiveDate,
    pub state: State,
    pub flagged: bool,
    pub score: Option<f64>,
    pub kw: Option<f64>,
    pub devices: Option<u32>,
    pub rank: Option<usize>,
    pub nights_flagged: u32,
    pub max_kw: f64,
    pub max_devices: Option<u32>,
    pub vanished_on: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub closed_reason: Option<String>,
    pub no_access_on: Option<NaiveDate>,
    pub note: String,
}

/// A meter flagged tonight.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub meter_id: String,
    pub score: f64,
    pub kw: f64,
    pub devices: Option<u32>,
    pub onset: Option<String>,
    pub rank: Option<usize>,
}

/// An inspection outcome, resolved to its case where it names one (or the meter's case open
/// on the visit date).
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub case_id: Option<String>,
    pub meter_id: String,
    pub date: NaiveDate,
    pub kind: OutcomeKind,
}

/// Settings of the case rules (`[nightly]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaseRules {
    pub keep_vanished_nights: u32,
    pub escalate_share: f64,
    pub suppress_share: f64,
}

/// A flagged meter that opened no case: a no-mining visit found nothing and its signature has
/// not changed since.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppressed {
    pub meter_id: String,
    pub visit: NaiveDate,
    pub level_kw: f64,
    pub kw: f64,
    pub score: f64,
}

/// Tonight's cases.
#[derive(Debug, Clone, Default)]
pub struct Night {
    /// Every case that has a row tonight (all but those expired before).
    pub cases: Vec<CaseNight>,
    pub suppressed: Vec<Suppressed>,
}

fn days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

/// Tonight's state of every case. `prev`: each case's latest row before `night` (any order);
/// `flags`: tonight's flagged meters; `visits`: every recorded outcome.
pub fn advance(
    night: NaiveDate,
    prev: &[CaseNight],
    flags: &[Flag],
    visits: &[Visit],
    rules: &CaseRules,
) -> Night {
    let mut out = Night::default();
    let visits: Vec<&Visit> = visits.iter().filter(|v| v.date <= night).collect();
    // Outcomes per case (resolved) and no-mining visits per meter.
    let mut by_case: HashMap<&str, Vec<&Visit>> = HashMap::new();
    for v in &visits {
        if let Some(c) = &v.case_id {
            by_case.entry(c.as_str()).or_default().push(v);
        }
    }
    let flagged: HashMap<&str, &Flag> = flags.iter().map(|f| (f.meter_id.as_str(), f)).collect();
    let mut prev: Vec<&CaseNight> = prev.iter().collect();
    prev.sort_by(|a, b| a.case_id.cmp(&b.case_id));
    let mut taken: HashSet<&str> = HashSet::new();
    let all_ids: HashSet<&str> = prev.iter().map(|c| c.case_id.as_str()).collect();

    // 1. Existing cases.
    for p in &prev {
        let mut c = (*p).clone();
        c.night = night;
        c.note.clear();
        c.score = None;
        c.kw = None;
        c.devices = None;
        c.rank = None;
        c.flagged = false;
        if matches!(p.state, State::Closed | State::Expired) {
            // Closed cases stay visible (with their date) as long as vanished ones.
            if p.state == State::Closed
                && p.closed_on
                    .is_some_and(|d| days_between(d, night) < i64::from(rules.keep_vanished_nights))
            {
                out.cases.push(c);
            }
            continue;
        }
        let outcomes = by_case.get(p.case_id.as_str()).cloned().unwrap_or_default();
        let closing = outcomes.iter().find(|v| {
            matches!(
                v.kind,
                OutcomeKind::MiningConfirmed | OutcomeKind::NoMining | OutcomeKind::Licensed
            )
        });
        if let Some(v) = outcomes
            .iter()
            .filter(|v| v.kind == OutcomeKind::NoAccess)
            .map(|v| v.date)
            .max()
        {
            c.no_access_on = Some(v);
        }
        if let Some(v) = closing {
            c.state = State::Closed;
            c.closed_on = Some(v.date);
            c.closed_reason = Some(v.kind.as_str().to_string());
            if let Some(f) = flagged.get(p.meter_id.as_str()) {
                // Still drawing tonight: shown, but the case is closed.
                c.score = Some(f.score);
                c.kw = Some(f.kw);
                c.devices = f.devices;
                c.flagged = true;
            }
            taken.insert(p.meter_id.as_str());
            out.cases.push(c);
            continue;
        }
        // A meter has at most one live case: the first (by id) takes tonight's flag.
        let f = flagged
            .get(p.meter_id.as_str())
            .filter(|_| !taken.contains(p.meter_id.as_str()));
        match f {
            Some(f) => {
                taken.insert(p.meter_id.as_str());
                c.flagged = true;
                c.score = Some(f.score);
                c.kw = Some(f.kw);
                c.devices = f.devices;
                c.rank = f.rank;
                c.nights_flagged += 1;
                let more_kw = p.max_kw > 0.0 && f.kw > p.max_kw * (1.0 + rules.escalate_share);
                let more_dev = matches!((f.devices, p.max_devices), (Some(a), Some(b)) if a > b);
                let again = if p.state == State::Vanished {
                    c.vanished_on = None;
                    format!(
                        "flagged again after vanishing on {}",
                        p.vanished_on.map(|d| d.to_string()).unwrap_or_default()
                    )
                } else {
                    String::new()
                };
                c.state = if more_kw || more_dev {
                    let step = if more_dev {
                        format!(
                            "devices {} -> {}",
                            p.max_devices.unwrap_or(0),
                            f.devices.unwrap_or(0)
                        )
                    } else {
                        format!("{:.1} kW -> {:.1} kW", p.max_kw, f.kw)
                    };
                    c.note = [again, step]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join("; ");
                    State::Escalating
                } else {
                    c.note = again;
                    State::Persisting
                };
                c.max_kw = p.max_kw.max(f.kw);
                c.max_devices = match (p.max_devices, f.devices) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
            None => {
                if p.state == State::Vanished {
                    let since = p.vanished_on.unwrap_or(night);
                    if days_between(since, night) >= i64::from(rules.keep_vanished_nights) {
                        c.state = State::Expired;
                    }
                } else {
                    c.state = State::Vanished;
                    c.vanished_on = Some(night);
                }
            }
        }
        out.cases.push(c);
    }

    // 2. Flagged meters without a live case: suppressed, or a new case.
    let mut used_ids: HashSet<String> = all_ids.iter().map(|s| s.to_string()).collect();
    let mut new_flags: Vec<&Flag> = flags
        .iter()
        .filter(|f| !taken.contains(f.meter_id.as_str()))
        .collect();
    new_flags.sort_by(|a, b| a.meter_id.cmp(&b.meter_id));
    // The latest no-mining visit of each meter, with the case it closed.
    let mut no_mining: BTreeMap<&str, &Visit> = BTreeMap::new();
    for v in visits.iter().filter(|v| v.kind == OutcomeKind::NoMining) {
        let e = no_mining.entry(v.meter_id.as_str()).or_insert(v);
        if v.date > e.date {
            *e = v;
        }
    }
    for f in new_flags {
        let mut note = String::new();
        if let Some(v) = no_mining.get(f.meter_id.as_str()) {
            // Reference signature: the visited case's last level before the visit.
            let reference = prev
                .iter()
                .filter(|c| c.meter_id == f.meter_id)
                .filter(|c| v.case_id.as_deref().is_none_or(|id| id == c.case_id))
                .max_by_key(|c| c.opened);
            // A case opened after the visit means the signature already changed.
            let reopened = prev
                .iter()
                .any(|c| c.meter_id == f.meter_id && c.opened > v.date);
            if let (Some(r), false) = (reference, reopened) {
                let level = r.max_kw;
                let same_level =
                    level > 0.0 && (f.kw - level).abs() <= rules.suppress_share * level;
                let more_dev = matches!((f.devices, r.max_devices), (Some(a), Some(b)) if a > b);
                if same_level && !more_dev {
                    out.suppressed.push(Suppressed {
                        meter_id: f.meter_id.clone(),
                        visit: v.date,
                        level_kw: level,
                        kw: f.kw,
                        score: f.score,
                    });
                    continue;
                }
                note = format!(
                    "signature changed since the no-mining visit of {} ({:.1} kW then, {:.1} kW now)",
                    v.date, level, f.kw
                );
            }
        }
        let base = format!(
            "{}@{}",
            f.meter_id,
            f.onset.clone().unwrap_or_else(|| night.to_string())
        );
        let mut id = base.clone();
        let mut k = 2;
        while used_ids.contains(&id) {
            id = format!("{base}#{k}");
            k += 1;
        }
        used_ids.insert(id.clone());
        let mut c = CaseNight {
            case_id: id,
            meter_id: f.meter_id.clone(),
            onset: f.onset.clone(),
            opened: night,
            night,
            state: State::New,
            flagged: true,
            score: Some(f.score),
            kw: Some(f.kw),
            devices: f.devices,
            rank: f.rank,
            nights_flagged: 1,
            max_kw: f.kw,
            max_devices: f.devices,
            vanished_on: None,
            closed_on: None,
            closed_reason: None,
            no_access_on: None,
            note,
        };
        // A case visited the night it opened (a re-run of that night): its outcomes act now.
        let outcomes = by_case.get(c.case_id.as_str()).cloned().unwrap_or_default();
        if let Some(v) = outcomes
            .iter()
            .filter(|v| v.kind == OutcomeKind::NoAccess)
            .map(|v| v.date)
            .max()
        {
            c.no_access_on = Some(v);
        }
        if let Some(v) = outcomes.iter().find(|v| v.kind != OutcomeKind::NoAccess) {
            c.state = State::Closed;
            c.closed_on = Some(v.date);
            c.closed_reason = Some(v.kind.as_str().to_string());
        }
        out.cases.push(c);
    }
    out.cases.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .then(b.score.unwrap_or(-1.0).total_cmp(&a.score.unwrap_or(-1.0)))
            .then(a.case_id.cmp(&b.case_id))
    });
    out
}

/// Counts per state (the summary).
pub fn counts(cases: &[CaseNight]) -> BTreeMap<&'static str, usize> {
    let mut m: BTreeMap<&'static str, usize> =
        ["new", "persisting", "escalating", "vanished", "closed"]
            .into_iter()
            .map(|k| (k, 0))
            .collect();
    for c in cases {
        if c.state != State::Expired {
            *m.entry(c.state.as_str()).or_default() += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn flag(m: &str, kw: f64, dev: u32) -> Flag {
        Flag {
            meter_id: m.into(),
            score: 0.8,
            kw,
            devices: Some(dev),
            onset: Some("2024-03-01".into()),
            rank: Some(1),
        }
    }
    const RULES: CaseRules = CaseRules {
        keep_vanished_nights: 2,
        escalate_share: 0.2,
        suppress_share: 0.25,
    };

    #[test]
    fn a_case_is_new_persists_escalates_vanishes_and_expires() {
        let n1 = advance(d("2024-03-05"), &[], &[flag("m1", 3.0, 1)], &[], &RULES);
        assert_eq!(n1.cases.len(), 1);
        assert_eq!(n1.cases[0].state, State::New);
        assert_eq!(n1.cases[0].case_id, "m1@2024-03-01");
        let n2 = advance(
            d("2024-03-06"),
            &n1.cases,
            &[flag("m1", 3.1, 1)],
            &[],
            &RULES,
        );
        assert_eq!(n2.cases[0].state, State::Persisting);
        assert_eq!(n2.cases[0].nights_flagged, 2);
        let n3 = advance(
            d("2024-03-07"),
            &n2.cases,
            &[flag("m1", 6.0, 2)],
            &[],
            &RULES,
        );
        assert_eq!(n3.cases[0].state, State::Escalating);
        let n4 = advance(d("2024-03-08"), &n3.cases, &[], &[], &RULES);
        assert_eq!(n4.cases[0].state, State::Vanished);
        assert_eq!(n4.cases[0].vanished_on, Some(d("2024-03-08")));
        let n5 = advance(d("2024-03-09"), &n4.cases, &[], &[], &RULES);
        assert_eq!(n5.cases[0].state, State::Vanished);
        let n6 = advance(d("2024-03-10"), &n5.cases, &[], &[], &RULES);
        assert_eq!(n6.cases[0].state, State::Expired);
        // Flagged after expiry: a new case with a new id.
        let n7 = advance(
            d("2024-03-11"),
            &n6.cases,
            &[flag("m1", 3.0, 1)],
            &[],
            &RULES,
        );
        let live: Vec<_> = n7.cases.iter().filter(|c| c.state == State::New).collect();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].case_id, "m1@2024-03-01#2");
    }

    #[test]
    fn outcomes_close_mark_and_suppress() {
        let n1 = advance(
            d("2024-03-05"),
            &[],
            &[flag("a", 3.0, 1), flag("b", 4.0, 1), flag("c", 5.0, 1)],
            &[],
            &RULES,
        );
        let visits = vec![
            Visit {
                case_id: Some("a@2024-03-01".into()),
                meter_id: "a".into(),
                date: d("2024-03-06"),
                kind: OutcomeKind::MiningConfirmed,
            },
            Visit {
                case_id: Some("b@2024-03-01".into()),
                meter_id: "b".into(),
                date: d("2024-03-06"),
                kind: OutcomeKind::NoMining,
            },
            Visit {
                case_id: Some("c@2024-03-01".into()),
                meter_id: "c".into(),
                date: d("2024-03-06"),
                kind: OutcomeKind::NoAccess,
            },
        ];
        let flags = [flag("a", 3.0, 1), flag("b", 4.2, 1), flag("c", 5.0, 1)];
        let n2 = advance(d("2024-03-06"), &n1.cases, &flags, &visits, &RULES);
        let st = |id: &str, n: &Night| n.cases.iter().find(|c| c.case_id == id).unwrap().clone();
        assert_eq!(st("a@2024-03-01", &n2).state, State::Closed);
        assert_eq!(st("b@2024-03-01", &n2).state, State::Closed);
        assert_eq!(st("c@2024-03-01", &n2).state, State::Persisting);
        assert_eq!(st("c@2024-03-01", &n2).no_access_on, Some(d("2024-03-06")));
        // Next night: b at the same level is suppressed; at double the level it opens a case.
        let n3 = advance(
            d("2024-03-07"),
            &n2.cases,
            &[flag("b", 4.1, 1)],
            &visits,
            &RULES,
        );
        assert_eq!(n3.suppressed.len(), 1);
        assert!(n3.cases.iter().all(|c| c.state != State::New));
        let n3 = advance(
            d("2024-03-07"),
            &n2.cases,
            &[flag("b", 8.0, 2)],
            &visits,
            &RULES,
        );
        assert!(n3.suppressed.is_empty());
        let new: Vec<_> = n3.cases.iter().filter(|c| c.state == State::New).collect();
        assert_eq!(new.len(), 1);
        assert!(new[0].note.contains("signature changed"), "{}", new[0].note);
        // A visit dated after the night does not act yet.
        let n2b = advance(d("2024-03-05"), &n1.cases, &flags, &visits, &RULES);
        assert!(n2b.cases.iter().all(|c| c.state != State::Closed));
    }

    #[test]
    fn a_case_visited_the_night_it_opened_is_closed_on_a_rerun_of_that_night() {
        let v = [Visit {
            case_id: Some("m1@2024-03-01".into()),
            meter_id: "m1".into(),
            date: d("2024-03-05"),
            kind: OutcomeKind::MiningConfirmed,
        }];
        let n = advance(d("2024-03-05"), &[], &[flag("m1", 3.0, 1)], &v, &RULES);
        assert_eq!(n.cases[0].state, State::Closed);
        assert_eq!(
            n.cases[0].closed_reason.as_deref(),
            Some("mining_confirmed")
        );
    }
}
