//! The asset register an auditor reconciles against: a CSV with a header row, `serial`
//! required, `asset_tag`, `model` and `wwn` optional, any other column carried into the report.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// One asset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Asset {
    /// The line in the file (1 is the header).
    pub line: u64,
    pub serial: String,
    pub asset_tag: String,
    pub model: String,
    pub wwn: String,
    /// Every column as read, in the file's order (for the report).
    pub columns: Vec<String>,
}

/// The register.
#[derive(Clone, Debug, Default)]
pub struct Register {
    pub source: String,
    pub header: Vec<String>,
    pub assets: Vec<Asset>,
    /// The file as read (its BLAKE3), when it was loaded from one.
    pub input: Option<super::provenance::Input>,
}

/// A serial, WWN or asset tag as compared: trimmed, case-insensitive (drives and labels differ
/// in case; never in anything else).
pub fn key(s: &str) -> String {
    s.trim().to_uppercase()
}

impl Register {
    /// Parses the register's text; `source` names it in errors.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the line: no `serial` column, a row with neither serial, WWN nor
    /// asset tag, a serial (or asset tag) given twice, a row of the wrong length.
    pub fn parse(text: &str, source: &str) -> Result<Register> {
        let bad =
            |line: u64, what: String| Error::Usage(format!("assets {source}: line {line}: {what}"));
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header: Vec<String> = rdr
            .headers()
            .map_err(|e| bad(1, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim().to_ascii_lowercase().replace([' ', '-'], "_") == name)
        };
        let serial = col("serial").ok_or_else(|| {
            bad(
                1,
                format!(
                    "no `serial` column (the columns are {}); the register needs serial, and may have asset_tag, model, wwn",
                    header.join(", ")
                ),
            )
        })?;
        let (tag, model, wwn) = (col("asset_tag"), col("model"), col("wwn"));
        let mut assets = Vec::new();
        let mut seen: HashMap<(&'static str, String), u64> = HashMap::new();
        for rec in rdr.records() {
            let rec =
                rec.map_err(|e| bad(e.position().map_or(0, csv::Position::line), e.to_string()))?;
            let line = rec.position().map_or(0, csv::Position::line);
            if rec.iter().all(str::is_empty) {
                continue;
            }
            let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").to_string();
            let a = Asset {
                line,
                serial: get(Some(serial)),
                asset_tag: get(tag),
                model: get(model),
                wwn: get(wwn),
                columns: rec.iter().map(str::to_string).collect(),
            };
            if a.serial.is_empty() && a.wwn.is_empty() && a.asset_tag.is_empty() {
                return Err(bad(
                    line,
                    "no serial, WWN or asset tag: which medium is this row?".into(),
                ));
            }
            for (what, v) in [
                ("serial", &a.serial),
                ("asset tag", &a.asset_tag),
                ("WWN", &a.wwn),
            ] {
                if v.is_empty() {
                    continue;
                }
                if let Some(first) = seen.insert((what, key(v)), line) {
                    return Err(bad(
                        line,
                        format!("{what} {v:?} is already on line {first}"),
                    ));
                }
            }
            assets.push(a);
        }
        Ok(Register {
            source: source.to_string(),
            header,
            assets,
            input: None,
        })
    }

    /// Loads a register file.
    ///
    /// # Errors
    /// [`Error::Usage`]: unreadable, not UTF-8, too large, or see [`Register::parse`].
    pub fn load(path: &Path) -> Result<Register> {
        let text = crate::limits::read_to_string(path, crate::limits::ASSETS)
            .map_err(|e| Error::Usage(format!("cannot read the assets {}: {e}", path.display())))?;
        let mut r = Register::parse(&text, &path.display().to_string())?;
        r.input = Some(super::provenance::Input::of(
            r.source.clone(),
            super::provenance::Role::Register,
            text.as_bytes(),
        ));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_register_needs_serials_and_no_duplicates() {
        let r = Register::parse(
            "Serial,Asset Tag,Model,Rack\nWD-1,A-1,WDC WD40,r1\n ab-2 ,A-2,,r2\n,A-3,,r3\n",
            "a.csv",
        )
        .unwrap();
        assert_eq!(r.assets.len(), 3);
        assert_eq!(r.assets[1].serial, "ab-2");
        assert_eq!(r.assets[2].asset_tag, "A-3");
        assert_eq!(r.assets[0].columns[3], "r1");
        for (text, want) in [
            ("asset_tag,model\nA,M\n", "line 1: no `serial` column"),
            (
                "serial\nS1\ns1\n",
                "line 3: serial \"s1\" is already on line 2",
            ),
            (
                "serial,asset_tag,model\n,,WDC\n",
                "line 2: no serial, WWN or asset tag",
            ),
            ("serial,asset_tag\nS1,A,extra\n", "line 2"),
        ] {
            let e = Register::parse(text, "a.csv").unwrap_err().to_string();
            assert!(
                e.starts_with("assets a.csv: ") && e.contains(want),
                "{text:?}: {e}"
            );
        }
    }
}
