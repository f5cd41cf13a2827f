//! Byte sizes: parsing what users type (`512M`, `4GiB`, `1000`) and printing sizes for humans.

/// Parses a size: plain bytes, or a number with a suffix. `K`, `M`, `G`, `T`, `P` and the
/// `KiB`..`PiB` forms are powers of 1024; `KB`..`PB` are powers of 1000; `B` is bytes.
/// Case-insensitive. Zero is rejected: a size of nothing is always a mistake here.
///
/// # Errors
/// A message naming what was wrong, ready to show the user.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    let hint = "expected a size such as 4096, 512M, 4GiB or 10GB";
    if digits.is_empty() {
        return Err(format!("invalid size '{text}': {hint}"));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size '{text}': number too large"))?;
    let mult: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "p" | "pib" => 1 << 50,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "pb" => 1_000_000_000_000_000,
        _ => {
            return Err(format!(
                "invalid size '{text}': unknown unit '{suffix}'; {hint}"
            ))
        }
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("invalid size '{text}': too large"))?;
    if bytes == 0 {
        return Err(format!("invalid size '{text}': must be greater than zero"));
    }
    Ok(bytes)
}

/// Parses a finite decimal number within `[lo, hi]`, for options in `unit`.
///
/// # Errors
/// A message naming the value and the range.
pub fn parse_in(text: &str, lo: f64, hi: f64, unit: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!(
            "invalid value '{text}': give a number of {unit} from {lo} to {hi}"
        )),
    }
}

/// `--checkpoint-interval`: seconds, 0.05 to 3600.
///
/// # Errors
/// See [`parse_in`].
pub fn parse_checkpoint_interval(text: &str) -> Result<f64, String> {
    parse_in(text, 0.05, 3600.0, "seconds")
}

/// `--slow-window`: seconds, 0.1 to a year.
///
/// # Errors
/// See [`parse_in`].
pub fn parse_slow_window(text: &str) -> Result<f64, String> {
    parse_in(text, 0.1, 31_536_000.0, "seconds")
}

/// `--slow-floor`: MB/s, 0 to 1,000,000.
///
/// # Errors
/// See [`parse_in`].
pub fn parse_rate_mbps(text: &str) -> Result<f64, String> {
    parse_in(text, 0.0, 1_000_000.0, "MB/s")
}

/// `--poll-interval`: seconds, 0.01 to 3600.
///
/// # Errors
/// See [`parse_in`].
pub fn parse_poll_interval(text: &str) -> Result<f64, String> {
    parse_in(text, 0.01, 3600.0, "seconds")
}

/// Parses a percentage above 0 and at most 100.
///
/// # Errors
/// See [`parse_in`].
pub fn parse_percent(text: &str) -> Result<f64, String> {
    parse_in(text, 0.001, 100.0, "percent")
}

/// Parses `--progress-interval`: 0.1 s to 1 h.
///
/// # Errors
/// See [`parse_in`].
pub fn parse_progress_interval(text: &str) -> Result<f64, String> {
    parse_in(text, 0.1, 3600.0, "seconds")
}

/// Parses a 32-bit number, decimal or `0x` hex.
///
/// # Errors
/// A message naming the value.
pub fn parse_u32(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| format!("invalid 32-bit value '{text}': give decimal or 0x hex"))
}

/// Formats a byte count for humans with binary units: `1.00 GiB`, `512 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

/// A duration for people: `45s`, `12m 30s`, `1h 02m`, `2d 03h`.
pub fn human_duration(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.max(0.0).round() as u64
    } else {
        u64::MAX
    };
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ if s == u64::MAX => "-".into(),
        _ => format!("{}d {:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// Formats a rate in binary units (KiB/s, MiB/s, GiB/s), as sizes are.
pub fn human_rate(bytes_per_second: f64) -> String {
    // Binary, as sizes and the progress bars are: one unit on every screen.
    let (k, m, g) = (1024.0, 1024.0 * 1024.0, 1024.0 * 1024.0 * 1024.0);
    match bytes_per_second {
        r if r >= g => format!("{:.2} GiB/s", r / g),
        r if r >= m => format!("{:.1} MiB/s", r / m),
        r => format!("{:.0} KiB/s", r / k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_be_finite_and_in_range() {
        assert_eq!(parse_checkpoint_interval("5"), Ok(5.0));
        assert_eq!(parse_checkpoint_interval("0.05"), Ok(0.05));
        for bad in ["NaN", "nan", "inf", "-inf", "0", "-1", "1e9", "", "five"] {
            let e = parse_checkpoint_interval(bad).unwrap_err();
            assert!(e.contains("from 0.05 to 3600"), "{bad}: {e}");
        }
        assert!(parse_slow_window("NaN").is_err());
        assert!(parse_rate_mbps("-0.5").is_err());
        assert_eq!(parse_rate_mbps("0"), Ok(0.0));
        assert!(parse_poll_interval("inf").is_err());
    }

    #[test]
    fn parses_plain_and_suffixed_sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("4gib"), Ok(4 << 30));
        assert_eq!(parse_size("10GB"), Ok(10_000_000_000));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert_eq!(parse_size("7B"), Ok(7));
    }

    #[test]
    fn rejects_bad_sizes() {
        for bad in [
            "",
            "M",
            "12X",
            "-5",
            "0",
            "0M",
            "1.5G",
            "99999999999999999999",
            "16384P",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn human_formats() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1 << 30), "1.00 GiB");
        assert_eq!(human_rate(2.5e9), "2.33 GiB/s");
        assert_eq!(human_duration(45.4), "45s");
        assert_eq!(human_duration(750.0), "12m 30s");
        assert_eq!(human_duration(3720.0), "1h 02m");
        assert_eq!(human_duration(2.0 * 86400.0 + 3.0 * 3600.0), "2d 03h");
        assert_eq!(human_duration(f64::INFINITY), "-");
        assert_eq!(human_rate(20e6), "19.1 MiB/s");
        assert_eq!(human_rate(400e3), "391 KiB/s");
    }
}
