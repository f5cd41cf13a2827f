//! A bench session's end in numbers: **media, not files**. A drive pulled mid-wipe and plugged
//! in again has two runs (an INCOMPLETE, then the run that resumed it); it counts once, by its
//! latest run, and the earlier run's certificates are listed as superseded. Drives refused
//! (never taken) are listed too. Pure: the loop in `cmd/bench.rs` hands in what ended.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::summary::Row;

/// One run on one drive: every row it ended with (a purge and an overwrite: two).
#[derive(Clone, Debug)]
pub struct Run {
    /// What identifies the medium across bays and re-plugs (the journal's lookup id).
    pub medium: String,
    pub rows: Vec<Row>,
}

/// A drive the bench did not take, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub target: String,
    pub reason: String,
}

/// The session's end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// The rows of each medium's latest run, in the order the media were first seen, then one
    /// `REFUSED` row per refusal.
    pub rows: Vec<Row>,
    /// Media by the result of their latest run (the worst of its rows), and `REFUSED`.
    pub counts: BTreeMap<String, usize>,
    /// How many drives: each medium worked on once, each refusal once.
    pub media: usize,
    /// Every certificate written, in order.
    pub certificates: Vec<PathBuf>,
    /// The certificates of runs a later run of the same medium replaced.
    pub superseded: Vec<PathBuf>,
    /// The drives not taken.
    pub refused: Vec<Refusal>,
}

/// The worst result among a run's rows: anything but PASS and INCOMPLETE (FAIL, ERROR) first.
pub fn worst(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| r.result.as_str())
        .max_by_key(|r| match *r {
            "PASS" => 0,
            "INCOMPLETE" => 1,
            _ => 2,
        })
        .unwrap_or("ERROR")
        .to_string()
}

fn certificate(r: &Row) -> Option<PathBuf> {
    let none = r.result == "ERROR"
        || r.certificate.starts_with("none")
        || r.certificate.starts_with("printed above");
    (!none).then(|| PathBuf::from(&r.certificate))
}

/// Counts what ended: `runs` in the order they ended, `refused` in the order they were refused.
pub fn tally(runs: &[Run], refused: &[Refusal]) -> Tally {
    let mut latest: Vec<(&str, &Run)> = Vec::new();
    let mut t = Tally::default();
    for run in runs {
        t.certificates
            .extend(run.rows.iter().filter_map(certificate));
        match latest.iter_mut().find(|(m, _)| *m == run.medium) {
            Some(slot) => {
                t.superseded
                    .extend(slot.1.rows.iter().filter_map(certificate));
                slot.1 = run;
            }
            None => latest.push((&run.medium, run)),
        }
    }
    for (_, run) in &latest {
        *t.counts.entry(worst(&run.rows)).or_default() += 1;
        t.rows.extend(run.rows.iter().cloned());
    }
    for r in refused {
        *t.counts.entry("REFUSED".into()).or_default() += 1;
        t.rows.push(Row {
            result: "REFUSED".into(),
            ..Row::error(&r.target, format!("none: {}", r.reason))
        });
    }
    t.media = latest.len() + refused.len();
    t.refused = refused.to_vec();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(result: &str, target: &str, cert: &str) -> Row {
        Row {
            result: result.into(),
            target: target.into(),
            certificate: cert.into(),
            ..Row::default()
        }
    }

    #[test]
    fn a_re_plugged_drive_counts_once_by_its_latest_run() {
        let runs = [
            Run {
                medium: "a".into(),
                rows: vec![row("PASS", "/dev/loop0", "/c/a.json")],
            },
            Run {
                medium: "slow".into(),
                rows: vec![row("INCOMPLETE", "/dev/loop2", "/c/s1.json")],
            },
            Run {
                medium: "b".into(),
                rows: vec![row("PASS", "/dev/loop1", "/c/b.json")],
            },
            // The pulled drive again, under another name.
            Run {
                medium: "slow".into(),
                rows: vec![row("PASS", "/dev/loop4", "/c/s2.json")],
            },
        ];
        let refused = [Refusal {
            target: "/dev/loop3".into(),
            reason: "the device is read-only".into(),
        }];
        let t = tally(&runs, &refused);
        assert_eq!(t.counts.get("PASS"), Some(&3));
        assert_eq!(t.counts.get("INCOMPLETE"), None);
        assert_eq!(t.counts.get("REFUSED"), Some(&1));
        assert_eq!(t.media, 4);
        assert_eq!(t.certificates.len(), 4);
        assert_eq!(t.superseded, vec![PathBuf::from("/c/s1.json")]);
        let targets: Vec<&str> = t.rows.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(
            targets,
            ["/dev/loop0", "/dev/loop4", "/dev/loop1", "/dev/loop3"],
            "by the order the media were first seen, the refusals last"
        );
        assert_eq!(t.rows[3].result, "REFUSED");
        assert!(t.rows[3].certificate.contains("read-only"));
    }

    #[test]
    fn a_run_with_two_certificates_counts_its_worst_and_errors_have_none() {
        let runs = [
            Run {
                medium: "x".into(),
                rows: vec![
                    row("PASS", "/dev/sdb", "/c/purge.json"),
                    row("FAIL", "/dev/sdb", "/c/over.json"),
                ],
            },
            Run {
                medium: "y".into(),
                rows: vec![Row::error("/dev/sdc", "none: no room".into())],
            },
        ];
        let t = tally(&runs, &[]);
        assert_eq!(t.counts.get("FAIL"), Some(&1));
        assert_eq!(t.counts.get("ERROR"), Some(&1));
        assert_eq!(t.certificates.len(), 2);
        assert_eq!(t.media, 2);
        assert_eq!(tally(&[], &[]), Tally::default());
    }
}
