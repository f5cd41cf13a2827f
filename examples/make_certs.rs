//! Makes a set of signed certificates and an asset register, for `benches/audit.sh`:
//! `cargo run --release --example make_certs -- DIR N`. Writes DIR/certs/*.json(.sig),
//! DIR/assets.csv (one row per certificate's serial) and DIR/allowed_signers. Each certificate is
//! a real one's shape (a PASS of a 4 TB drive), with its own id, serial and time, signed with a
//! key made for the set.

#![allow(clippy::print_stdout)]

use rayon::prelude::*;

use mediasan::cert::{sign, Certificate, Verdict, FORMAT};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (dir, n) = match args.as_slice() {
        [_, d, n] => (std::path::PathBuf::from(d), n.parse::<usize>()?),
        _ => return Err("usage: make_certs DIR N".into()),
    };
    std::fs::create_dir_all(dir.join("certs"))?;
    let key = sign::Signing::plain(sign::generate(&dir.join("signing_key"), "bench")?);
    std::fs::write(
        dir.join("allowed_signers"),
        format!("bench {}\n", key.public_key().to_openssh()?),
    )?;
    let mut register = String::from("serial,asset_tag,model\n");
    for i in 0..n {
        register += &format!("WD-BENCH{i:07},A-{i:07},WDC WD40EFRX\n");
    }
    std::fs::write(dir.join("assets.csv"), register)?;
    (0..n)
        .into_par_iter()
        .try_for_each(|i| -> Result<(), String> {
            let mut c = Certificate {
                format: FORMAT.into(),
                id: format!("{i:08x}-0000-4000-8000-000000000000"),
                result: Verdict::Pass,
                ..Certificate::default()
            };
            c.media.path = format!("/dev/sd{i}");
            c.media.kind = "block".into();
            c.media.identity.serial = format!("WD-BENCH{i:07}");
            c.media.identity.model = "WDC WD40EFRX".into();
            c.media.size_bytes = 4_000_787_030_016;
            c.media.asset_tag = format!("A-{i:07}");
            c.operator.name = ["Jane Doe", "Max Muster", "Ana Lima"][i % 3].into();
            c.sanitization.method = "clear".into();
            c.sanitization.technique = "overwrite".into();
            c.sanitization.policy.name = "nist-clear".into();
            let day = 1 + i % 28;
            c.sanitization.started = format!("2026-11-{day:02}T08:00:00Z");
            c.sanitization.finished = format!("2026-11-{day:02}T14:00:00Z");
            c.verification.method = "sampled".into();
            c.notes = vec!["Overwrite is NIST SP 800-88 Rev. 2 Clear.".into()];
            let mut bytes = serde_json::to_vec_pretty(&c).map_err(|e| e.to_string())?;
            bytes.push(b'\n');
            let sig = sign::sign(&key, &bytes).map_err(|e| e.to_string())?;
            let name = dir.join("certs").join(format!("sd{i}-{}.json", c.id));
            std::fs::write(&name, &bytes).map_err(|e| e.to_string())?;
            std::fs::write(format!("{}.sig", name.display()), sig).map_err(|e| e.to_string())?;
            Ok(())
        })?;
    println!("{n} certificates in {}", dir.join("certs").display());
    Ok(())
}
