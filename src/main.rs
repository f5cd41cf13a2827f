//! The `mediasan` binary: parse, run, print the error on one line, exit with its code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mediasan::cli::Cli::parse();
    match mediasan::cmd::run(cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            let text = format!("mediasan: error: {e:#}");
            mediasan::term::err(&mediasan::term::escape(&text));
            ExitCode::from(mediasan::cmd::exit_of(&e).code())
        }
    }
}
