//! `mediasan keygen`: make an Ed25519 signing key.

use crate::cert::sign;
use crate::cli::KeygenArgs;
use crate::error::{Error, Exit};

pub fn run(args: &KeygenArgs) -> anyhow::Result<Exit> {
    let path = match &args.out {
        Some(p) => p.clone(),
        None => sign::default_key_path().ok_or_else(|| {
            Error::Usage("cannot find a config folder (no HOME); give --out FILE".into())
        })?,
    };
    // Nothing is destroyed by a key that cannot be written: a bad --out is a usage error.
    let key = sign::generate(&path, &crate::session::key_comment()).map_err(|e| match e {
        Error::Io { .. } => Error::Usage(format!("{e}; choose another --out")),
        other => other,
    })?;
    errln!(
        "wrote private key {} and public key {}.pub",
        path.display(),
        path.display()
    );
    errln!("fingerprint {}", sign::fingerprint(key.public_key()));
    outln!("{}", key.public_key().to_openssh().unwrap_or_default());
    Ok(Exit::Pass)
}
