#!/bin/sh
# Builds the Debian package of mediasan with cargo-deb: the release binary, the man page and
# shell completions generated from the CLI definitions, the built-in policies and the README.
# usage: packaging/deb.sh   -> target/debian/mediasan_<version>-1_<arch>.deb
set -eu
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
cargo build --release --locked
A=target/deb-assets
mkdir -p "$A"
target/release/mediasan generate man | gzip -9n > "$A/mediasan.1.gz"
target/release/mediasan generate completions bash > "$A/mediasan.bash"
target/release/mediasan generate completions zsh > "$A/_mediasan"
target/release/mediasan generate completions fish > "$A/mediasan.fish"
cargo deb --no-build --locked --strip
