//! mediasan: sanitize storage media (NIST SP 800-88 Rev. 2 Clear by overwrite) and prove it
//! with a signed certificate. See README.md for its use and docs/architecture.md for the data flow.
#[macro_use]
pub mod term;
pub mod aesctr;
pub mod aligned;
pub mod audit;
pub mod bench;
pub mod cert;
pub mod clear;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod contract;
pub mod device;
pub mod draw;
pub mod error;
pub mod event;
pub mod evidence;
pub mod findings;
pub mod journal;
pub mod limits;
pub mod pattern;
pub mod places;
pub mod plan;
pub mod policy;
pub mod progress;
#[cfg(test)]
mod props;
pub mod purge;
pub mod recheck;
pub mod records;
pub mod session;
pub mod settings;
pub mod signals;
pub mod summary;
pub mod technique;
#[cfg(test)]
mod testing;
pub mod toml_words;
pub mod units;
pub mod verify;
pub mod writer;

pub use error::{Error, Result};
