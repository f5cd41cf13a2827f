//! One file per subcommand. Each turns parsed arguments into calls on the library stages and
//! returns the process exit code; errors carry context for `main` to print on one line.

mod cert;
mod keygen;
mod list;
mod policies;
mod verify;
mod wipe;

use crate::cli::{CertCommand, Cli, Command, GenerateCommand};
use crate::error::{exit, Error};

/// Runs a parsed command line; returns the exit code.
///
/// # Errors
/// Any failure before a certificate could be written (bad input, refusal, I/O).
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Wipe(a) => wipe::run(&a),
        Command::Verify(a) => verify::run(&a),
        Command::Cert(CertCommand::Verify(a)) => cert::verify(&a),
        Command::Cert(CertCommand::Show(a)) => cert::show(&a),
        Command::Cert(CertCommand::Render(a)) => cert::render(&a),
        Command::Keygen(a) => keygen::run(&a),
        Command::List(a) => list::run(&a),
        Command::Policies(a) => policies::run(&a),
        Command::Generate(g) => generate(&g),
    }
}

/// `mediasan generate man|completions SHELL`: from the clap definitions, so they never drift.
fn generate(g: &GenerateCommand) -> anyhow::Result<u8> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    match g {
        GenerateCommand::Man => clap_mangen::Man::new(cmd).render(&mut out)?,
        GenerateCommand::Completions { shell } => {
            clap_complete::generate(*shell, &mut cmd, "mediasan", &mut out)
        }
    }
    Ok(exit::PASS)
}

/// The exit code for an error: the first typed [`Error`] in its chain decides; anything else
/// is a failure (1).
pub fn exit_code_of(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|c| c.downcast_ref::<Error>())
        .map_or(exit::FAILED, Error::exit_code)
}
