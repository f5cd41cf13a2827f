//! The `mediasan` binary: parse, run, print the error on one line, exit with its code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mediasan::cli::Cli::parse();
    match mediasan::cmd::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mediasan: error: {e:#}");
            ExitCode::from(mediasan::cmd::exit_code_of(&e))
        }
    }
}
