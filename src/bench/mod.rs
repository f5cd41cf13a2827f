//! Bench mode's parts (`mediasan bench`; the loop is `cmd/bench.rs`): which drives may be
//! taken ([`select`]), what is plugged in and when it changes ([`watch`]), each drive's row
//! ([`board`]) and the screen that shows them ([`screen`]), and the slot lights ([`leds`]).

pub mod board;
pub mod leds;
pub mod screen;
pub mod select;
pub mod watch;
