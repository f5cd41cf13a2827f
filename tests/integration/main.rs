//! The integration tests, one binary (one link): the real `mediasan` binary against image
//! files, loop devices, the FUSE fault harness, a simulated drive, the ioctlcap shim and a QEMU
//! guest. Root-only tests print `skipped: <reason>` on a developer's machine and fail under CI.

#![allow(clippy::print_stderr, clippy::print_stdout)]

#[macro_use]
mod common;

mod audit;
mod batch;
mod bench;
mod corpus;
mod day;
mod faults;
mod purge;
mod resume;
mod sanitize;
mod signer;
mod trust;
mod vm;
mod wipe_device;
mod wipe_image;
