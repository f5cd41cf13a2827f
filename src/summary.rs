//! The end of a run with several targets: one table, in target order, that a FAIL among PASSes
//! cannot hide in (result, target, serial, asset tag, certificate), and the on-screen form of a
//! certificate's reasons (the first few, then how many more the certificate holds).

use comfy_table::{presets, ContentArrangement, Table};

use crate::term::escape;

/// One target's line in the summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// PASS, FAIL, INCOMPLETE, REFUSED (refused for safety, nothing written, a record saying
    /// why), or ERROR (no certificate: it stopped before its first byte).
    pub result: String,
    pub target: String,
    pub serial: String,
    pub asset: String,
    /// The certificate's path, or what happened instead.
    pub certificate: String,
}

impl Row {
    /// A target with no certificate: `why` says what happened instead.
    pub fn error(target: &str, why: String) -> Row {
        Row {
            result: "ERROR".into(),
            target: target.into(),
            certificate: why,
            ..Row::default()
        }
    }

    /// A target whose thread panicked (a bug).
    pub fn bug(target: &str) -> Row {
        Row::error(
            target,
            "none: mediasan failed (a bug); see the lines above".into(),
        )
    }
}

/// The reasons to show on screen: at most `max`, each at most `width` characters, then "+N
/// more in the certificate". The certificate keeps them all.
pub fn reasons(all: &[String], max: usize, width: usize) -> Vec<String> {
    let mut out: Vec<String> = all
        .iter()
        .take(max)
        .map(|r| {
            let r = escape(r);
            if r.chars().count() > width {
                let cut: String = r.chars().take(width.saturating_sub(1)).collect();
                format!("{cut}…")
            } else {
                r.into_owned()
            }
        })
        .collect();
    if all.len() > max {
        out.push(format!("+{} more in the certificate", all.len() - max));
    }
    out
}

/// The summary table: a heading with the counts, then one row per target in order. `width`:
/// the terminal's columns (long cells wrap within it), or `None` for a log (nothing wraps).
/// Every cell is escaped.
pub fn table(rows: &[Row], width: Option<u16>) -> String {
    // Certificates in one folder (the usual case) are named by file, the folder once.
    let folder = common_folder(rows);
    let rows: Vec<Row> = rows
        .iter()
        .map(|r| match &folder {
            Some(f) => Row {
                certificate: std::path::Path::new(&r.certificate)
                    .strip_prefix(f)
                    .map_or(r.certificate.clone(), |p| p.display().to_string()),
                ..r.clone()
            },
            None => r.clone(),
        })
        .collect();
    let rows = &rows[..];
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    t.set_header(["RESULT", "TARGET", "SERIAL", "ASSET", "CERTIFICATE"]);
    for r in rows {
        t.add_row([
            escape(&r.result).into_owned(),
            escape(&r.target).into_owned(),
            dash(&r.serial),
            dash(&r.asset),
            escape(&r.certificate).into_owned(),
        ]);
    }
    match width {
        Some(w) => {
            t.set_width(w.saturating_sub(1));
            t.set_content_arrangement(ContentArrangement::Dynamic);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    let heading = match &folder {
        Some(f) => format!(
            "{} (certificates in {})",
            heading(rows),
            escape(&f.display().to_string())
        ),
        None => heading(rows),
    };
    format!("{heading}\n{}", t.trim_fmt())
}

/// The folder every certificate of the run is in, when there are several and they share one.
fn common_folder(rows: &[Row]) -> Option<std::path::PathBuf> {
    let mut parents = rows.iter().map(|r| {
        let p = std::path::Path::new(&r.certificate);
        (p.is_absolute() && p.extension().is_some_and(|e| e == "json"))
            .then(|| p.parent().map(std::path::Path::to_path_buf))
            .flatten()
    });
    let first = parents.next()??;
    (rows.len() > 1 && parents.all(|p| p.as_ref() == Some(&first))).then_some(first)
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        escape(s).into_owned()
    }
}

/// "Summary: 3 targets - 2 PASS, 1 FAIL".
fn heading(rows: &[Row]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in rows {
        match counts.iter_mut().find(|(k, _)| *k == r.result) {
            Some((_, n)) => *n += 1,
            None => counts.push((r.result.clone(), 1)),
        }
    }
    // Worst first: what needs attention leads.
    let rank = |k: &str| match k {
        "ERROR" => 0,
        "FAIL" | "REFUSED" => 1,
        "INCOMPLETE" => 2,
        "PASS" => 4,
        _ => 3,
    };
    counts.sort_by_key(|(k, _)| rank(k));
    // A target with several certificates (rma: its purge's and its overwrite's) counts once.
    let mut targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    targets.sort_unstable();
    targets.dedup();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let certificates = if targets.len() == rows.len() {
        String::new()
    } else {
        format!(", {} certificates", rows.len())
    };
    format!(
        "Summary: {} target{}{certificates} - {}",
        targets.len(),
        plural(targets.len()),
        counts
            .iter()
            .map(|(k, n)| format!("{n} {}", escape(k)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The table with each row's result word in colour (FAIL and ERROR red, INCOMPLETE yellow,
/// PASS green), for a terminal that shows colour.
pub fn colour(table: &str) -> String {
    use console::Style;
    let styles = [
        ("FAIL", Style::new().red().bold().force_styling(true)),
        ("ERROR", Style::new().red().bold().force_styling(true)),
        ("REFUSED", Style::new().red().bold().force_styling(true)),
        (
            "INCOMPLETE",
            Style::new().yellow().bold().force_styling(true),
        ),
        ("PASS", Style::new().green().force_styling(true)),
    ];
    table
        .lines()
        .enumerate()
        .map(|(i, line)| {
            // The heading and the column titles stay plain; a row starts with its result.
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            match styles.iter().find(|(w, _)| {
                i > 1 && trimmed.starts_with(w) && trimmed[w.len()..].starts_with(' ')
            }) {
                Some((w, st)) => format!("{indent}{}{}", st.apply_to(w), &trimmed[w.len()..]),
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(result: &str, target: &str, asset: &str) -> Row {
        Row {
            result: result.into(),
            target: target.into(),
            serial: "S-1".into(),
            asset: asset.into(),
            certificate: format!(
                "/var/lib/mediasan/certificates/{}-20261129T101500Z-0123456789abcdef.json",
                target.trim_start_matches("/dev/")
            ),
        }
    }

    #[test]
    fn a_target_with_two_certificates_counts_once() {
        let rows = [
            row("PASS", "/dev/sdb", "A1"),
            row("PASS", "/dev/sdb", "A1"),
            row("FAIL", "/dev/sdc", ""),
        ];
        assert_eq!(
            heading(&rows),
            "Summary: 2 targets, 3 certificates - 1 FAIL, 2 PASS"
        );
    }

    #[test]
    fn the_table_lists_every_target_in_order_and_counts_the_worst_first() {
        let rows = [
            row("PASS", "/dev/sdb", "A1"),
            row("FAIL", "/dev/sdc", ""),
            row("PASS", "/dev/sdd", "A3"),
        ];
        let t = table(&rows, None);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "Summary: 3 targets - 1 FAIL, 2 PASS (certificates in /var/lib/mediasan/certificates)"
        );
        assert!(lines[1].contains("RESULT") && lines[1].contains("CERTIFICATE"));
        assert!(lines[2].trim_start().starts_with("PASS") && lines[2].contains("/dev/sdb"));
        assert!(
            lines[3].trim_start().starts_with("FAIL") && lines[3].contains(" - "),
            "{t}"
        );
        assert!(lines[4].contains("/dev/sdd") && lines[4].contains("A3"));
        assert!(
            lines[3].contains("sdc-20261129T101500Z-0123456789abcdef.json"),
            "a log gets whole paths"
        );
    }

    #[test]
    fn at_80_columns_nothing_is_wider_and_nothing_is_lost() {
        let rows = [
            row(
                "PASS",
                "/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0123456",
                "ASSET-000123",
            ),
            row("FAIL", "/dev/sdc", "A2"),
        ];
        let t = table(&rows, Some(80));
        for l in t.lines() {
            assert!(
                console::measure_text_width(l) <= 80,
                "{l:?} is {} wide",
                l.len()
            );
        }
        let flat: String = t.split_whitespace().collect();
        assert!(flat.contains("0123456789abcdef.json"), "{t}");
        assert!(flat.contains("WD-WCC7K0123456"), "{t}");
    }

    #[test]
    fn device_text_is_escaped_and_colour_marks_only_results() {
        let mut r = row("FAIL", "/dev/sdb", "A\x1b[2J");
        r.serial = "PASS\nFAIL".into();
        let t = table(&[r, row("PASS", "/dev/sdc", "B")], None);
        assert!(
            !t.contains('\x1b') && t.contains("A\\x1b[2J") && t.contains("PASS\\nFAIL"),
            "{t}"
        );
        let c = colour(&t);
        assert!(
            c.contains("\x1b[31m\x1b[1mFAIL\x1b[0m") || c.contains("\x1b[1m\x1b[31mFAIL"),
            "{c:?}"
        );
        assert!(
            c.lines().next().unwrap().starts_with("Summary"),
            "the heading stays plain"
        );
        assert_eq!(c.matches("\x1b[32m").count(), 1, "{c:?}");
    }

    #[test]
    fn on_screen_reasons_are_few_short_and_say_how_many_more() {
        let all: Vec<String> = (0..7)
            .map(|i| format!("reason {i} {}", "x".repeat(300)))
            .collect();
        let r = reasons(&all, 3, 100);
        assert_eq!(r.len(), 4);
        assert!(r[..3].iter().all(|l| l.chars().count() <= 100));
        assert_eq!(r[3], "+4 more in the certificate");
        assert_eq!(reasons(&all[..1], 3, 1000), [all[0].clone()]);
    }
}
