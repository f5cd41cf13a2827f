//! The screen at the bench (ratatui over crossterm, on stderr's terminal, in the alternate
//! screen): a title, one row per drive, a summary line, the latest messages. Redrawn a few
//! times a second from the board; a resized terminal is redrawn at its new size. Every string
//! a drive supplies (model, serial, messages) is escaped before it is drawn.

use std::io::Stderr;

use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::{Frame, Terminal};

use super::board::{Bay, Stage, State};
use crate::units::{human_bytes, human_duration, human_rate};

/// The terminal, in the alternate screen until dropped.
pub struct Screen {
    terminal: Terminal<CrosstermBackend<Stderr>>,
    /// Keys typed meanwhile are not echoed over the screen.
    _quiet: Option<crate::term::EchoCtl>,
}

impl Screen {
    /// Takes over stderr's terminal.
    ///
    /// # Errors
    /// The terminal cannot be set up.
    pub fn open() -> std::io::Result<Screen> {
        let quiet = crate::term::EchoCtl::no_echo();
        let mut err = std::io::stderr();
        ratatui::crossterm::execute!(
            err,
            ratatui::crossterm::terminal::EnterAlternateScreen,
            ratatui::crossterm::cursor::Hide
        )?;
        Ok(Screen {
            terminal: Terminal::new(CrosstermBackend::new(err))?,
            _quiet: quiet,
        })
    }

    /// Draws the board (errors are ignored: the next tick tries again).
    pub fn draw(&mut self, title: &str, state: &State) {
        let _ = self.terminal.draw(|f| render(f, title, state));
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = ratatui::crossterm::execute!(
            std::io::stderr(),
            ratatui::crossterm::terminal::LeaveAlternateScreen,
            ratatui::crossterm::cursor::Show
        );
    }
}

fn esc(s: &str) -> String {
    crate::term::escape(s).into_owned()
}

fn result_style(r: &str) -> Style {
    let c = match r {
        "PASS" => Color::Green,
        "INCOMPLETE" => Color::Yellow,
        _ => Color::Red,
    };
    Style::default().fg(c).add_modifier(Modifier::BOLD)
}

/// `[#####.....]  47%`, `width` characters of bar.
fn bar(fraction: f64, width: usize) -> String {
    let full = (fraction * width as f64).round() as usize;
    format!(
        "[{}{}] {:>3.0}%",
        "#".repeat(full.min(width)),
        ".".repeat(width.saturating_sub(full)),
        fraction * 100.0
    )
}

fn stage(b: &Bay) -> String {
    match &b.stage {
        Stage::Settling => "settling".into(),
        Stage::Working(k) if k == "pass" => format!("pass {}/{}", b.pass, b.passes),
        Stage::Working(k) => k.clone(),
        Stage::Stopping(why) => format!("stopping: {why}"),
        Stage::Finished => "done - pull it".into(),
        Stage::Refused(why) => format!("refused: {why}"),
    }
}

/// The whole screen.
pub fn render(f: &mut Frame, title: &str, s: &State) {
    let area = f.area();
    let lines_room = 4u16.min(area.height.saturating_sub(6));
    let [head, table, summary, messages] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(lines_room),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(
            esc(title),
            Style::default().add_modifier(Modifier::BOLD),
        ))),
        head,
    );
    let bar_width = if area.width >= 140 { 20 } else { 10 };
    let cells: Vec<Vec<(String, Option<Style>)>> =
        s.bays.iter().map(|b| cells(b, bar_width)).collect();
    let chosen = columns(usize::from(area.width), &cells);
    let rows: Vec<Row> = cells
        .iter()
        .map(|r| {
            Row::new(chosen.iter().map(|&(i, _)| {
                let (text, style) = &r[i];
                match style {
                    Some(st) => Cell::from(Span::styled(text.clone(), *st)),
                    None => Cell::from(text.clone()),
                }
            }))
        })
        .collect();
    let header = Row::new(chosen.iter().map(|&(i, _)| COLUMNS[i].0))
        .style(Style::default().add_modifier(Modifier::BOLD));
    let widths: Vec<Constraint> = chosen
        .iter()
        .map(|&(_, w)| Constraint::Length(w as u16))
        .collect();
    let empty = rows.is_empty();
    let t = Table::new(rows, widths).header(header).column_spacing(1);
    f.render_widget(t, table);
    if empty {
        let [_, hint] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(table);
        f.render_widget(
            Paragraph::new(
                "no drives yet: plug one in (only drives that match --include are taken)",
            ),
            hint,
        );
    }
    f.render_widget(Paragraph::new(summary_line(s)), summary);
    let recent: Vec<Line> = s
        .lines
        .iter()
        .rev()
        .take(usize::from(lines_room))
        .rev()
        .map(|l| Line::from(esc(l)))
        .collect();
    f.render_widget(Paragraph::new(recent), messages);
}

/// The columns, in screen order: heading, most characters shown, rank (0 is kept first when
/// the terminal is narrow).
const COLUMNS: [(&str, usize, u8); 11] = [
    ("DRIVE", 40, 0),
    ("MODEL", 24, 8),
    ("SERIAL", 24, 1),
    ("SIZE", 10, 5),
    ("HEALTH", 8, 9),
    ("STAGE", 28, 2),
    ("PROGRESS", 27, 3),
    ("RATE", 12, 7),
    ("ETA", 8, 6),
    ("RESULT", 10, 4),
    ("CERTIFICATE", 60, 10),
];

/// One drive's cells, in [`COLUMNS`] order (text escaped; a style for the result).
fn cells(b: &Bay, bar_width: usize) -> Vec<(String, Option<Style>)> {
    let name = if b.slot.is_empty() {
        b.target.clone()
    } else {
        format!("{} ({})", b.target, b.slot)
    };
    let working = matches!(b.stage, Stage::Working(_) | Stage::Stopping(_));
    let plain = |t: String| (esc(&t), None);
    vec![
        plain(name),
        plain(b.model.clone()),
        plain(b.serial.clone()),
        plain(if b.size > 0 {
            human_bytes(b.size)
        } else {
            String::new()
        }),
        plain(b.health.clone()),
        plain(stage(b)),
        plain(if working {
            bar(b.fraction(), bar_width)
        } else {
            String::new()
        }),
        plain(if working && b.rate > 0.0 {
            human_rate(b.rate)
        } else {
            String::new()
        }),
        plain(match (working, b.eta) {
            (true, Some(e)) => human_duration(e),
            _ => String::new(),
        }),
        match &b.result {
            Some(r) => (esc(r), Some(result_style(r))),
            None => (String::new(), None),
        },
        plain(b.certificate.clone().unwrap_or_default()),
    ]
}

/// The columns that fit in `width`, by rank, each as wide as its widest cell (at most its
/// cap): (index in [`COLUMNS`], width), in screen order. Empty columns are left out.
fn columns(width: usize, rows: &[Vec<(String, Option<Style>)>]) -> Vec<(usize, usize)> {
    let want: Vec<usize> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (head, cap, _))| {
            let widest = rows
                .iter()
                .map(|r| r[i].0.chars().count())
                .max()
                .unwrap_or(0);
            if widest == 0 && !rows.is_empty() {
                0
            } else {
                widest.max(head.len()).min(*cap)
            }
        })
        .collect();
    let mut by_rank: Vec<usize> = (0..COLUMNS.len()).filter(|&i| want[i] > 0).collect();
    by_rank.sort_by_key(|&i| COLUMNS[i].2);
    let mut used = 0;
    let mut chosen = Vec::new();
    for i in by_rank {
        let w = want[i] + usize::from(!chosen.is_empty());
        if used + w <= width {
            used += w;
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    chosen.into_iter().map(|i| (i, want[i])).collect()
}

/// `2 working, 1 settling | PASS 5  FAIL 1  INCOMPLETE 0 | refused 1 | Ctrl-C stops`.
fn summary_line(s: &State) -> Line<'static> {
    let c = s.counts();
    let mut spans = vec![Span::raw(format!(
        "{} working, {} settling | ",
        c.working, c.settling
    ))];
    for (word, n) in [
        ("PASS", c.pass),
        ("FAIL", c.fail),
        ("INCOMPLETE", c.incomplete),
    ] {
        spans.push(Span::styled(format!("{word} {n}"), result_style(word)));
        spans.push(Span::raw("  "));
    }
    spans.push(Span::raw(format!("| refused {} | ", c.refused)));
    spans.push(Span::raw(if s.stopping {
        "stopping: the drives' work ends at a safe point (journals kept)"
    } else {
        "Ctrl-C stops (unfinished drives resume when plugged in again)"
    }));
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;

    fn screen(width: u16, s: &State) -> String {
        let mut t = Terminal::new(TestBackend::new(width, 14)).unwrap();
        t.draw(|f| render(f, "mediasan bench: include sd*", s))
            .unwrap();
        let buf = t.backend().buffer().clone();
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn state() -> State {
        let mut a = Bay::new("/dev/sdb");
        a.slot = "0:0:8:0/Slot07".into();
        a.model = "ST4000NM\u{1b}[31m".into();
        a.serial = "ZC1A2B3C".into();
        a.size = 4_000_787_030_016;
        a.health = "ok".into();
        a.stage = Stage::Working("pass".into());
        a.pass = 1;
        a.passes = 1;
        a.done = 1 << 40;
        a.total = 4 << 40;
        a.rate = 250e6;
        a.eta = Some(3600.0);
        let mut b = Bay::new("/dev/sdc");
        b.serial = "WD-1".into();
        b.stage = Stage::Finished;
        b.result = Some("PASS".into());
        b.certificate = Some("sdc-20261130-WD-1-abc.json".into());
        let mut c = Bay::new("/dev/sdd");
        c.stage = Stage::Refused("mounted at /srv".into());
        State {
            bays: vec![a, b, c],
            gone: vec![(
                "FAIL".into(),
                "/dev/sde".into(),
                "X".into(),
                "e.json".into(),
            )],
            lines: ["/dev/sdc: PASS - certificate /certs/sdc.json".to_string()].into(),
            stopping: false,
        }
    }

    #[test]
    fn every_drive_has_a_row_with_its_stage_progress_and_result_and_a_summary_counts_them() {
        let text = screen(200, &state());
        assert!(text.contains("mediasan bench: include sd*"), "{text}");
        assert!(text.contains("/dev/sdb (0:0:8:0/Slot07)"), "{text}");
        assert!(
            text.contains("ZC1A2B3C") && text.contains("pass 1/1"),
            "{text}"
        );
        assert!(text.contains("[#####...............]  25%"), "{text}");
        assert!(
            text.contains("done - pull it") && text.contains("PASS"),
            "{text}"
        );
        assert!(text.contains("sdc-20261130-WD-1-abc.json"), "{text}");
        assert!(text.contains("refused: mounted at /srv"), "{text}");
        assert!(
            text.contains("1 working, 0 settling | PASS 1  FAIL 1  INCOMPLETE 0  | refused 1"),
            "{text}"
        );
        assert!(text.contains("/dev/sdc: PASS - certificate"), "{text}");
        assert!(
            !text.contains('\u{1b}'),
            "a drive's text cannot colour the screen"
        );
    }

    #[test]
    fn a_narrow_terminal_keeps_the_essentials() {
        let text = screen(80, &state());
        for want in ["/dev/sdb", "ZC1A2B3C", "pass 1/1", "PASS", "refused"] {
            assert!(text.contains(want), "{want} at 80 columns:\n{text}");
        }
        assert!(
            !text.contains("MODEL") && !text.contains("CERTIFICATE"),
            "{text}"
        );
    }
}
