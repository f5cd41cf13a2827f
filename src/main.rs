//! The `mediasan` binary: everything is in `cmd::main` (parse, log, run, one-line errors).

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(mediasan::cmd::main(std::env::args_os()))
}
