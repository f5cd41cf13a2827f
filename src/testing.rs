//! Helpers for the unit tests.

/// What a test's deliberate panic says, so that [`quiet_intended_panics`] can keep it quiet.
pub const INTENDED: &str = "(a panic the test intends)";

/// Keeps the panics a test provokes on purpose (their message holds [`INTENDED`]) out of the
/// log: `cargo test --show-output`, as `.ci/run` runs it, would print their message and
/// backtrace for a test that passes. Every other panic is printed as before, so a test that
/// fails still shows why.
pub fn quiet_intended_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let text = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !text.contains(INTENDED) {
                before(info);
            }
        }));
    });
}
