//! TOML and serde messages in words a person uses, for every file mediasan reads in TOML (the
//! organization file, policies). A leaf: it uses nothing of mediasan's.

/// A TOML/serde message in words a person uses: no Rust types ("expected u8", "expected
/// struct RawVerify"), and no line breaks.
pub fn plain(msg: &str) -> String {
    let mut m = msg.replace('\n', " ");
    for (rust, plain) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
    ] {
        m = m.replace(rust, plain);
    }
    if let Some(i) = m.find("expected struct ") {
        let end = m[i + 16..]
            .find(|c: char| !c.is_alphanumeric())
            .map_or(m.len(), |e| i + 16 + e);
        m.replace_range(i..end, "expected a table of keys");
    }
    m.replace(" a sequence", " a list [...]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_tables_not_rust_types() {
        assert_eq!(
            plain("invalid type: string \"x\", expected u8"),
            "invalid type: string \"x\", expected a whole number from 0 to 255"
        );
        assert_eq!(
            plain("invalid type: string \"s\", expected struct RawVerify"),
            "invalid type: string \"s\", expected a table of keys"
        );
    }
}
