//! One file per subcommand. Each turns parsed arguments into calls on the library stages and
//! returns the process exit code; errors carry context for `main` to print on one line.

mod audit;
mod bench;
mod capture;
mod cert;
mod destroyed;
mod keygen;
mod list;
mod policies;
mod purge;
mod sanitize;
mod stop_holders;
mod verify;
mod wipe;

use crate::cli::{CertCommand, Cli, Command, GenerateCommand};
use crate::error::{Error, Exit};
pub(crate) use crate::session::{announce, key_ready, load_key, store_certificate};

/// The whole program: parses `args`, opens the session log, runs the command, and prints a
/// failure as one line (and, with `--json`, an `error` event); returns the exit code.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    use clap::Parser;
    let args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    if let Some(p) = &cli.log {
        if let Err(e) = crate::term::open_log(p) {
            crate::term::err(&crate::term::escape(&format!(
                "mediasan: error: cannot open the log {}: {e}; give a file in a folder you can write",
                p.display()
            )));
            return Exit::Usage.code();
        }
    }
    let line: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    crate::term::log(&crate::term::escape(&format!(
        "started: {} (mediasan {})",
        line.join(" "),
        env!("CARGO_PKG_VERSION")
    )));
    let json = wants_json(&cli.command);
    let code = match run(cli) {
        Ok(exit) => exit,
        Err(e) => {
            let exit = exit_of(&e);
            crate::term::err(&crate::term::escape(&format!("mediasan: error: {e:#}")));
            if json {
                // A refusal or a bad target names its target, so a fleet engine blames the
                // right disk.
                let target = e
                    .chain()
                    .find_map(|c| c.downcast_ref::<Error>())
                    .and_then(Error::target_path)
                    .map(|p| p.display().to_string());
                let event = crate::event::Event::Error(crate::event::TargetError {
                    target,
                    error: format!("{e:#}"),
                    code: exit.code(),
                });
                crate::term::out(&event.line());
            }
            exit
        }
    };
    crate::term::log(&format!("exit code {}", code.code()));
    code.code()
}

/// A command line clap refused, as one line (help and version are printed as they are).
fn usage_error(e: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return u8::try_from(e.exit_code()).unwrap_or(2);
    }
    let text = e.render().to_string();
    // The first paragraph is the error (a list of missing arguments continues it); a "tip:"
    // paragraph is worth keeping; the usage and "for more information" are not.
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| {
            p.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|p| !p.is_empty())
        .collect();
    let first = paragraphs
        .first()
        .map_or("bad command line", |p| p.trim_start_matches("error: "));
    let mut line = format!("mediasan: error: {first}");
    for t in paragraphs.iter().filter(|p| p.starts_with("tip:")) {
        line += &format!("; {t}");
    }
    line += " (see --help)";
    crate::term::err(&crate::term::escape(&line));
    Exit::Usage.code()
}

/// True when the command was asked for JSON events.
fn wants_json(c: &Command) -> bool {
    match c {
        Command::Wipe(a) => a.opts.json,
        Command::Sanitize(a) => a.wipe.opts.json,
        Command::Bench(a) => a.opts.json,
        Command::Purge(a) => a.json,
        Command::PurgeStatus(a) => a.json,
        Command::StopHolders(a) => a.json,
        Command::Verify(a) => a.json,
        Command::Cert(CertCommand::Verify(a)) => a.json,
        Command::List(a) => a.json,
        Command::Audit(a) => a.json,
        Command::Destroyed(a) => a.json,
        Command::Policies(a) => a.json,
        _ => false,
    }
}

/// Runs a parsed command line; returns the exit code.
///
/// # Errors
/// Any failure before a certificate could be written (bad input, refusal, I/O).
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Wipe(a) => wipe::run(&a),
        Command::Sanitize(a) => sanitize::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Purge(a) => purge::run(&a),
        Command::PurgeStatus(a) => purge::status(&a),
        Command::StopHolders(a) => stop_holders::run(&a),
        Command::Verify(a) => verify::run(&a),
        Command::Cert(CertCommand::Verify(a)) => cert::verify(&a),
        Command::Cert(CertCommand::Show(a)) => cert::show(&a),
        Command::Cert(CertCommand::Render(a)) => cert::render(&a),
        Command::Cert(CertCommand::Countersign(a)) => cert::countersign(&a),
        Command::Audit(a) => audit::run(&a),
        Command::Destroyed(a) => destroyed::run(&a),
        Command::Keygen(a) => keygen::run(&a),
        Command::List(a) => list::run(&a),
        Command::Policies(a) => policies::run(&a),
        Command::Capture(a) => capture::run(&a),
        Command::Generate(g) => generate(&g),
    }
}

/// `mediasan generate man|completions SHELL`: from the clap definitions, so they never drift.
fn generate(g: &GenerateCommand) -> anyhow::Result<Exit> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // Rendered whole, then written once: a reader that goes away (`| head`) is not an error.
    let mut out = Vec::new();
    match g {
        GenerateCommand::Man { dir: Some(dir) } => {
            clap_mangen::generate_to(cmd, dir).map_err(|e| {
                Error::Usage(format!(
                    "cannot write the man pages into {}: {e}; give a folder that exists and you can write",
                    dir.display()
                ))
            })?;
            return Ok(Exit::Pass);
        }
        GenerateCommand::Man { dir: None } => clap_mangen::Man::new(cmd).render(&mut out)?,
        GenerateCommand::Completions { shell } => {
            clap_complete::generate(*shell, &mut cmd, "mediasan", &mut out)
        }
    }
    crate::term::out_raw(&String::from_utf8_lossy(&out));
    Ok(Exit::Pass)
}

/// Asks on the terminal before destroying what `lines` describe (`about`: who, how, where the
/// evidence goes): on stdin/stderr when both are a terminal, else on the controlling terminal
/// (`/dev/tty`), so `2>&1 | tee log` still asks; refuses when there is none (cron, a pipeline
/// without a terminal). The question and the answer go to the session log.
pub(crate) fn confirm(
    first: &std::path::Path,
    lines: &[String],
    about: &[String],
) -> anyhow::Result<()> {
    ask(first, "This will DESTROY ALL DATA on:", lines, about)
}

/// [`confirm`] with another first line.
pub(crate) fn ask(
    first: &std::path::Path,
    heading: &str,
    lines: &[String],
    about: &[String],
) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
    let (mut input, mut output): (Box<dyn Read>, Box<dyn Write>) =
        if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            (Box::new(std::io::stdin()), Box::new(std::io::stderr()))
        } else {
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/tty")
            {
                Ok(tty) if tty.is_terminal() => match tty.try_clone() {
                    Ok(out) => (Box::new(tty), Box::new(out)),
                    Err(_) => return Err(no_terminal(first)),
                },
                _ => return Err(no_terminal(first)),
            }
        };
    // Device strings (model, serial, backing file) are shown escaped: a crafted name must not
    // rewrite the lines the operator is confirming.
    let mut text = format!("{heading}\n");
    for l in lines {
        text += &format!("  {}\n", crate::term::escape(l));
    }
    for l in about {
        text += &format!("{}\n", crate::term::escape(l));
    }
    crate::term::log(&text);
    let _ = write!(output, "{text}Type 'yes' to continue: ");
    let _ = output.flush();
    let mut answer = String::new();
    let _ = BufReader::new(&mut input).read_line(&mut answer);
    if answer.trim() != "yes" {
        crate::term::log("not confirmed");
        return Err(Error::refused(first, "not confirmed").into());
    }
    crate::term::log("confirmed: the operator typed yes");
    Ok(())
}

fn no_terminal(first: &std::path::Path) -> anyhow::Error {
    Error::refused(
        first,
        "no --yes given and no terminal to confirm on; add --yes to go ahead without asking",
    )
    .into()
}

/// How a command that failed with `e` ends: the first typed [`Error`] in its chain decides;
/// anything else is a failure (1).
pub fn exit_of(e: &anyhow::Error) -> Exit {
    e.chain()
        .find_map(|c| c.downcast_ref::<Error>())
        .map_or(Exit::Failed, Error::exit)
}
