#!/bin/sh
# Builds the Debian package of mediasan with cargo-deb: the release binary, the man page and
# shell completions generated from the CLI definitions (a page per subcommand), the built-in policies, the README and docs/.
# usage: packaging/deb.sh   -> target/debian/mediasan_<version>-1_<arch>.deb
set -eu
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
cargo build --release --locked
A=target/deb-assets
mkdir -p "$A"
rm -rf "$A/man" && mkdir -p "$A/man"
# mediasan.1 and a page per subcommand (mediasan-wipe.1 ...), as the main page's SEE ALSO names them.
target/release/mediasan generate man --dir "$A/man"
for f in "$A"/man/*.1; do gzip -9nf "$f"; done
target/release/mediasan generate completions bash > "$A/mediasan.bash"
target/release/mediasan generate completions zsh > "$A/_mediasan"
target/release/mediasan generate completions fish > "$A/mediasan.fish"
cargo deb --no-build --locked --strip
