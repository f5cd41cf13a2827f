//! Bench mode's parts (`mediasan bench`; the loop is `cmd/bench.rs`): which drives may be
//! taken ([`select`]), what is plugged in and when it changes ([`watch`]), each drive's row
//! ([`board`]) and the screen that shows them ([`screen`]), the slot lights ([`leds`]), and
//! the session's end counted by media ([`tally`]).

pub mod board;
pub mod leds;
pub mod screen;
pub mod select;
pub mod tally;
pub mod watch;
