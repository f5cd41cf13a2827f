//! Completeness: each signer's certificates are numbered as they are signed
//! ([`crate::cert::chain`]), so the numbers a delivery lacks, two certificates with one number
//! (a fork: a copied state folder, or a certificate replaced) and a series begun anew (a new
//! state folder) show. Pure: it reads what the audit already judged.

use std::collections::{BTreeMap, BTreeSet};

use crate::cert::check::Checked;

pub use crate::findings::Series;

/// The series of the trusted `records` (copies left out), and how many of them carry no number
/// (made before numbering, or without a state folder). `signer` names who signed one.
pub fn of<'a>(
    records: impl IntoIterator<Item = &'a Checked>,
    signer: impl Fn(&Checked) -> String,
) -> (Vec<Series>, usize) {
    struct Link<'a> {
        hash: &'a str,
        previous: &'a str,
        started: &'a str,
    }
    /// Per (key, series id): who signed, and the certificates per number.
    type Groups<'a> = BTreeMap<(String, String), (String, BTreeMap<u64, Vec<Link<'a>>>)>;
    let mut groups: Groups<'_> = BTreeMap::new();
    let mut unnumbered = 0;
    for checked in records {
        let hash = checked.file_blake3.as_str();
        let Some(chain) = checked.cert.chain.as_ref().filter(|c| c.seq > 0) else {
            unnumbered += 1;
            continue;
        };
        let key = checked.signer.fingerprint().to_string();
        let g = groups
            .entry((key, chain.id.clone()))
            .or_insert_with(|| (signer(checked), BTreeMap::new()));
        g.1.entry(chain.seq).or_default().push(Link {
            hash,
            previous: &chain.previous,
            started: &checked.cert.sanitization.started,
        });
    }
    let mut out = Vec::new();
    for ((key, id), (who, links)) in groups {
        let (first, last) = match (links.keys().next(), links.keys().next_back()) {
            (Some(&a), Some(&b)) => (a, b),
            _ => continue,
        };
        let mut gaps = Vec::new();
        let mut want = first;
        for &n in links.keys() {
            if n > want {
                gaps.push((want, n - 1));
            }
            want = n + 1;
        }
        let mut forks = BTreeSet::new();
        for (&n, here) in &links {
            let hashes: BTreeSet<&str> = here.iter().map(|l| l.hash).collect();
            if hashes.len() > 1 {
                forks.insert(n);
            }
            if let Some(before) = n.checked_sub(1).and_then(|p| links.get(&p)) {
                let prior: BTreeSet<&str> = before.iter().map(|l| l.hash).collect();
                if here.iter().any(|l| !prior.contains(l.previous)) {
                    forks.insert(n);
                }
            }
        }
        let count = links
            .values()
            .map(|h| h.iter().map(|l| l.hash).collect::<BTreeSet<_>>().len())
            .sum();
        let began = links
            .values()
            .flatten()
            .map(|l| l.started)
            .min()
            .unwrap_or_default()
            .to_string();
        out.push((
            began,
            Series {
                signer: who,
                key,
                id,
                first,
                last,
                count,
                gaps,
                forks: forks.into_iter().collect(),
                restart: false,
            },
        ));
    }
    // Per key, in the order the series began: every one after the first is a restart.
    out.sort_by(|a, b| (&a.1.key, &a.0).cmp(&(&b.1.key, &b.0)));
    for i in 1..out.len() {
        if out[i].1.key == out[i - 1].1.key {
            out[i].1.restart = true;
        }
    }
    (out.into_iter().map(|(_, s)| s).collect(), unnumbered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::trust::Signer;
    use crate::cert::{Certificate, Chain};

    /// A trusted record of `key`'s series `id`, number `seq`, whose file hashes to `hash` and
    /// which names `previous` as the one before.
    fn rec(key: &str, id: &str, seq: u64, hash: &str, previous: &str) -> Checked {
        let mut c = Certificate::default();
        c.sanitization.started = format!("2026-12-0{}T00:00:00Z", id.len() % 9);
        c.chain = (seq > 0).then(|| Chain {
            id: id.into(),
            seq,
            previous: previous.into(),
        });
        Checked {
            cert: c,
            signer: Signer::Trusted {
                fingerprint: key.into(),
                by: "k.pub".into(),
                identity: format!("key {key}"),
            },
            file_blake3: hash.into(),
            validator: None,
        }
    }

    fn series(records: &[Checked]) -> (Vec<Series>, usize) {
        of(records, |c| format!("key {}", c.signer.fingerprint()))
    }

    #[test]
    fn a_whole_series_is_whole_and_a_missing_number_is_named() {
        let whole = [
            rec("A", "s1", 1, "h1", ""),
            rec("A", "s1", 2, "h2", "h1"),
            rec("A", "s1", 3, "h3", "h2"),
        ];
        let (s, unnumbered) = series(&whole);
        assert_eq!(unnumbered, 0);
        assert_eq!(s.len(), 1);
        assert!(s[0].whole(), "{s:?}");
        assert_eq!((s[0].first, s[0].last, s[0].count), (1, 3, 3));
        // #2 and #4-#5 deleted from the delivery.
        let holed = [
            rec("A", "s1", 1, "h1", ""),
            rec("A", "s1", 3, "h3", "h2"),
            rec("A", "s1", 6, "h6", "h5"),
        ];
        let (s, _) = series(&holed);
        assert_eq!(s[0].gaps, [(2, 2), (4, 5)]);
        assert!(s[0].forks.is_empty());
        assert!(!s[0].whole());
        assert!(
            s[0].describe().contains("MISSING #2, #4-#5"),
            "{}",
            s[0].describe()
        );
    }

    #[test]
    fn two_certificates_with_one_number_or_a_broken_link_are_a_fork() {
        let forked = [
            rec("A", "s1", 1, "h1", ""),
            rec("A", "s1", 2, "h2", "h1"),
            rec("A", "s1", 2, "h2b", "h1"),
        ];
        let (s, _) = series(&forked);
        assert_eq!(s[0].forks, [2]);
        assert_eq!(s[0].count, 3);
        // A copy of one file (same bytes) is no fork.
        let copied = [rec("A", "s1", 1, "h1", ""), rec("A", "s1", 1, "h1", "")];
        assert!(series(&copied).0[0].whole());
        // #2 does not follow the #1 in the delivery: #1 was replaced.
        let replaced = [rec("A", "s1", 1, "h1x", ""), rec("A", "s1", 2, "h2", "h1")];
        let (s, _) = series(&replaced);
        assert_eq!(s[0].forks, [2]);
        assert!(s[0].describe().contains("FORK at #2"));
    }

    #[test]
    fn an_id_of_any_text_is_shown_without_a_panic() {
        let s = series(&[rec("A", "ééééé\u{1b}[2Jxyz", 1, "h1", "")]).0;
        assert_eq!(s[0].short_id(), "ééééé\u{1b}[2");
        assert!(s[0].describe().contains("#1-#1"));
    }

    #[test]
    fn a_new_series_of_one_key_is_a_restart_and_keys_and_old_records_are_apart() {
        let entries = [
            rec("A", "s1", 1, "h1", ""),
            rec("A", "s1", 2, "h2", "h1"),
            rec("A", "s22", 1, "g1", ""),
            rec("B", "t1", 4, "k4", "k3"),
            rec("B", "", 0, "old", ""),
        ];
        let (s, unnumbered) = series(&entries);
        assert_eq!(unnumbered, 1);
        assert_eq!(s.len(), 3);
        let restarts: Vec<&str> = s
            .iter()
            .filter(|x| x.restart)
            .map(|x| x.id.as_str())
            .collect();
        assert_eq!(restarts, ["s22"], "the later series of A");
        let b = s.iter().find(|x| x.key == "B").unwrap();
        assert!(b.whole() && !b.restart);
        assert!(b.describe().contains("starts at #4"), "{}", b.describe());
        assert!(s
            .iter()
            .find(|x| x.id == "s22")
            .unwrap()
            .describe()
            .contains("RESTART"));
    }
}
