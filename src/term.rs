//! Text for people: what may reach a terminal, and writing it without ever failing.
//!
//! Device- and file-supplied strings (a model or serial from a drive or a USB bridge, a loop
//! device's backing file name, fields of a certificate) can hold escape sequences, newlines,
//! bidi overrides or zero-width characters that rewrite or disguise what an operator reads
//! (the "This will DESTROY ALL DATA on:" prompt, a certificate's RESULT line). [`escape`] makes
//! every such character visible as an escape (`\x1b`, `\n`, `\u{202e}`). Certificates keep the
//! raw string (JSON-escaped); HTML renderings escape HTML.
//!
//! Writing to stdout or stderr never panics and never fails the caller: a closed pipe
//! (`| head -c1`), a terminal that went away (SSH dropped) or a full disk under a log file must
//! not stop a wipe or its evidence. [`out`] and [`err`] drop what cannot be written.

use std::borrow::Cow;
use std::io::Write;

/// True for characters that must not reach a terminal raw: C0 and C1 controls, DEL, bidi
/// embedding/override/isolate marks, zero-width and invisible formatting characters, and the
/// Unicode line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{ad}'                      // soft hyphen
        | '\u{61c}'                     // Arabic letter mark
        | '\u{180e}'                    // Mongolian vowel separator
        | '\u{200b}'..='\u{200f}'       // zero-width space/joiners, LRM, RLM
        | '\u{2028}'..='\u{202e}'       // line/paragraph separators, bidi embeddings/overrides
        | '\u{2060}'..='\u{2069}'       // word joiner, invisible operators, bidi isolates
        | '\u{feff}'                    // zero-width no-break space (BOM)
        | '\u{fff9}'..='\u{fffb}'       // interlinear annotation
    )
}

/// `s` with every [`is_unsafe`] character written as a visible escape: `\t`, `\n`, `\r`,
/// `\x1b` for other ASCII controls, `\u{202e}` for the rest. Borrowed when nothing changes.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x80 && is_unsafe(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A path for people: lossy UTF-8, escaped.
pub fn path(p: &std::path::Path) -> String {
    escape(&p.to_string_lossy()).into_owned()
}

/// What stderr can show, decided once per command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Screen {
    /// A terminal that redraws: bars and colour. False for a pipe, a file, `TERM=dumb` or an
    /// unset `TERM` (cron, a serial console, some CI runners).
    pub smart: bool,
    /// Colour is welcome (`NO_COLOR` unset or empty, `CLICOLOR` not 0; `CLICOLOR_FORCE`
    /// forces it).
    pub colour: bool,
    /// Its width in columns, if it is a terminal.
    pub width: Option<u16>,
}

/// What stderr can show.
pub fn stderr_screen() -> Screen {
    use std::io::IsTerminal;
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let terminal = std::io::stderr().is_terminal();
    let smart = terminal && var("TERM").is_some_and(|t| t != "dumb");
    let colour = (smart && var("NO_COLOR").is_none() && var("CLICOLOR").as_deref() != Some("0"))
        || var("CLICOLOR_FORCE").is_some_and(|v| v != "0");
    let width = terminal
        .then(|| console::Term::stderr().size_checked().map(|(_, w)| w))
        .flatten()
        .filter(|w| *w >= 20);
    Screen {
        smart,
        colour,
        width,
    }
}

/// The terminal on stderr with its echo of control characters (`^C`) turned off, restored
/// when dropped.
pub struct EchoCtl {
    /// Behind a mutex: nix's `Termios` is not `Sync`, the reporter that holds this is.
    saved: std::sync::Mutex<nix::sys::termios::Termios>,
}

impl EchoCtl {
    /// Turns `ECHOCTL` off on stderr's terminal; `None` if stderr is not a terminal or it was
    /// already off.
    pub fn off() -> Option<EchoCtl> {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let fd = std::io::stderr();
        let saved = tcgetattr(&fd).ok()?;
        if !saved.local_flags.contains(LocalFlags::ECHOCTL) {
            return None;
        }
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHOCTL);
        tcsetattr(&fd, SetArg::TCSANOW, &quiet).ok()?;
        Some(EchoCtl {
            saved: std::sync::Mutex::new(saved),
        })
    }
}

impl EchoCtl {
    /// Turns echo off altogether on stderr's terminal (a full-screen display that keys typed
    /// meanwhile must not scribble over); Ctrl-C still signals. `None` without a terminal.
    pub fn no_echo() -> Option<EchoCtl> {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let fd = std::io::stderr();
        let saved = tcgetattr(&fd).ok()?;
        let mut quiet = saved.clone();
        quiet
            .local_flags
            .remove(LocalFlags::ECHO | LocalFlags::ECHOCTL);
        tcsetattr(&fd, SetArg::TCSANOW, &quiet).ok()?;
        Some(EchoCtl {
            saved: std::sync::Mutex::new(saved),
        })
    }
}

impl Drop for EchoCtl {
    fn drop(&mut self) {
        use nix::sys::termios::{tcsetattr, SetArg};
        let saved = self.saved.lock().unwrap_or_else(|p| p.into_inner());
        let _ = tcsetattr(std::io::stderr(), SetArg::TCSANOW, &saved);
    }
}

/// The session log (`--log FILE`), if one is open.
static LOG: std::sync::OnceLock<std::sync::Mutex<std::fs::File>> = std::sync::OnceLock::new();

/// Someone may be watching: stdin and stderr are a terminal, or the process has a controlling
/// terminal (`/dev/tty` opens, as under `2>&1 | tee log`). Not so under cron, systemd, an
/// engine's ramdisk agent or `setsid`.
pub fn attended() -> bool {
    use std::io::IsTerminal;
    (std::io::stdin().is_terminal() && std::io::stderr().is_terminal())
        || std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_ok_and(|t| t.is_terminal())
}
/// Opens `path` for appending as the session log: from now on every line said on stderr, and
/// the periodic progress lines, are also written there with their UTC time.
///
/// # Errors
/// The file cannot be opened for appending (a missing folder, no permission).
pub fn open_log(path: &std::path::Path) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let _ = LOG.set(std::sync::Mutex::new(f));
    Ok(())
}

/// True when a session log is open.
pub fn logging() -> bool {
    LOG.get().is_some()
}

/// Writes `text` to the session log only (if there is one), each line after its UTC time,
/// without colour codes. Errors (a full disk) are ignored: a log must never stop a wipe.
pub fn log(text: &str) {
    let Some(log) = LOG.get() else { return };
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let plain = console::strip_ansi_codes(text);
    let mut f = log.lock().unwrap_or_else(|p| p.into_inner());
    for line in plain.lines() {
        let _ = writeln!(f, "{now} {line}");
    }
    let _ = f.flush();
}

/// Also writes `text` to the controlling terminal when stderr is not one (`2>&1 | tee log`:
/// Ctrl-C ends `tee` too, and with it everything said after): the last words of an
/// interrupted run reach the person who pressed it, as the prompt does. Nothing when stderr is
/// the terminal already, or there is none.
pub fn also_on_terminal(text: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        return;
    }
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        if tty.is_terminal() {
            // On a line of its own: the terminal's echo of ^C is where the cursor is.
            let _ = writeln!(tty, "\n{text}");
        }
    }
}

/// Writes `text` and a newline to stderr (and the session log); errors (a closed pipe, a
/// vanished terminal) are ignored. `text` is written as given: escape what came from a device
/// or a file first.
pub fn err(text: &str) {
    log(text);
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{text}");
    let _ = e.flush();
}

/// Writes `text` and a newline to stdout; errors are ignored (see [`err`]).
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{text}");
    let _ = o.flush();
}

/// Writes `text` as it is (no newline added) to stdout; errors are ignored.
pub fn out_raw(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(text.as_bytes());
    let _ = o.flush();
}

/// `println!` that escapes the line (see [`escape`]) and never fails: [`out`].
macro_rules! outln {
    () => { $crate::term::out("") };
    ($($t:tt)*) => { $crate::term::out(&$crate::term::escape(&format!($($t)*))) };
}

/// `eprintln!` that escapes the line (see [`escape`]) and never fails: [`err`].
macro_rules! errln {
    ($($t:tt)*) => { $crate::term::err(&$crate::term::escape(&format!($($t)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in [
            "",
            "QEMU HARDDISK",
            "Samsung SSD 990 PRO 2TB",
            "Größe 1 TB",
            "/dev/sda",
        ] {
            assert!(matches!(escape(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn controls_bidi_and_invisible_characters_become_visible() {
        assert_eq!(escape("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape("x\ny\rz\t"), "x\\ny\\rz\\t");
        assert_eq!(escape("\u{7f}\u{85}\u{9b}"), "\\x7f\\u{85}\\u{9b}");
        assert_eq!(escape("evil\u{202e}fdp.exe"), "evil\\u{202e}fdp.exe");
        assert_eq!(
            escape("a\u{200b}b\u{feff}c\u{2066}d"),
            "a\\u{200b}b\\u{feff}c\\u{2066}d"
        );
        assert_eq!(escape("l\u{2028}m"), "l\\u{2028}m");
    }

    #[test]
    fn escaped_text_has_nothing_unsafe_left() {
        // Every character from U+0000 to U+10FFFF, escaped, leaves no unsafe character.
        let all: String = (0u32..=0x10FFFF).filter_map(char::from_u32).collect();
        let e = escape(&all);
        assert!(!e.chars().any(is_unsafe));
        assert!(!e.contains('\n'));
    }
}
