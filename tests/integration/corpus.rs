//! The corpus of real drives' answers (`tests/data/drives/corpus.toml`): every fixture is read
//! and decoded, and every expectation on what mediasan decides from it is asserted. The
//! expectations were written from the standard, not from mediasan's output.

use std::path::{Path, PathBuf};

use mediasan::device::{ata, fixture};
use mediasan::purge::method;
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    fixture: Vec<Fixture>,
    #[serde(default)]
    sanicap: Vec<Sanicap>,
    #[serde(default)]
    nvme: Vec<NvmeFixture>,
}

/// A real NVMe controller's Identify Controller data, and what it must be read as.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NvmeFixture {
    file: PathBuf,
    drive: String,
    source: String,
    licence: String,
    original_sha256: String,
    serial_scrubbed: bool,
    why: String,
    expect: NvmeExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NvmeExpect {
    model: String,
    firmware: String,
    version: u32,
    sanicap: u32,
    methods: Vec<String>,
    purge: String,
}

/// An NVMe SANICAP value a real drive reported, and what it must be read as.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Sanicap {
    value: u32,
    drives: String,
    methods: Vec<String>,
    no_deallocate_inhibited: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    file: PathBuf,
    drive: String,
    source: String,
    licence: String,
    original_sha256: String,
    serial_scrubbed: bool,
    why: String,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    model: String,
    firmware: Option<String>,
    medium: String,
    security: Vec<String>,
    sanitize: bool,
    ama: Option<bool>,
    hpa: Option<bool>,
    lba48: Option<bool>,
    sectors: Option<u64>,
    erase_minutes: Option<[u32; 2]>,
    methods: Vec<String>,
    purge: String,
    /// The health state from the recorded SMART data (`ok`, `warning`, `failing`).
    health: Option<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/drives")
}

fn corpus() -> Corpus {
    let text = std::fs::read_to_string(corpus_dir().join("corpus.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

/// A fixture's IDENTIFY DEVICE, whatever format it is kept in.
fn identify_of(bytes: &[u8], name: &str) -> Box<[u8; 512]> {
    let r = fixture::Recording::read(bytes, name).unwrap_or_else(|e| panic!("{e}"));
    let x = r
        .exchanges
        .iter()
        .find(|x| x.command == "IDENTIFY DEVICE")
        .unwrap_or_else(|| panic!("{name}: every ATA fixture has IDENTIFY DEVICE"));
    Box::new(fixture::unhex(&x.data).unwrap().try_into().unwrap())
}

/// The security state as the corpus names it, from word 128.
fn security_words(id: &ata::Identify) -> Vec<String> {
    [
        (id.security, "supported"),
        (id.security_enabled, "enabled"),
        (id.security_locked, "locked"),
        (id.security_frozen, "frozen"),
        (id.security_count_expired, "count-expired"),
        (id.security_enhanced_erase, "enhanced-erase"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name.to_string())
    .collect()
}

#[test]
fn every_fixture_has_its_provenance_and_a_scrubbed_serial() {
    let c = corpus();
    assert!(c.fixture.len() >= 6);
    for f in &c.fixture {
        let name = f.file.display();
        assert!(
            !f.drive.is_empty() && !f.why.is_empty() && !f.licence.is_empty(),
            "{name}"
        );
        assert!(
            f.source.contains(" @ "),
            "{name}: repository@commit and path"
        );
        assert_eq!(f.original_sha256.len(), 64, "{name}");
        let bytes = std::fs::read(corpus_dir().join(&f.file)).unwrap();
        let id = identify_of(&bytes, &name.to_string());
        assert!(
            f.serial_scrubbed,
            "{name}: only scrubbed recordings are kept"
        );
        assert_eq!(
            &id[20..40],
            &[b' '; 20],
            "{name}: serial (words 10-19) blank"
        );
        assert_eq!(
            &id[216..224],
            &[0; 8],
            "{name}: world wide name (words 108-111) blank"
        );
        assert_ne!(
            fixture::identify_checksum(&id),
            Some(false),
            "{name}: word 255's checksum is right"
        );
    }
}

#[test]
fn every_real_drive_is_decoded_and_decided_as_the_standard_says() {
    for f in corpus().fixture {
        let name = f.file.display().to_string();
        let bytes = std::fs::read(corpus_dir().join(&f.file)).unwrap();
        let id = ata::parse_identify(&identify_of(&bytes, &name));
        let e = &f.expect;
        assert_eq!(id.model, e.model, "{name}");
        if let Some(fw) = &e.firmware {
            assert_eq!(&id.firmware, fw, "{name}");
        }
        let (medium, why) = method::ata_medium(id.rotation_rate, id.trim, None);
        assert_eq!(medium.name(), e.medium, "{name}: {why}");
        assert_eq!(security_words(&id), e.security, "{name}");
        assert_eq!(id.sanitize, e.sanitize, "{name}");
        if let Some(ama) = e.ama {
            assert_eq!(id.ama_supported, ama, "{name}");
        }
        if let Some(hpa) = e.hpa {
            assert_eq!(id.hpa_supported, hpa, "{name}");
        }
        if let Some(lba48) = e.lba48 {
            assert_eq!(id.lba48, lba48, "{name}");
        }
        if let Some(sectors) = e.sectors {
            assert_eq!(id.sectors, sectors, "{name}");
        }
        if let Some([normal, enhanced]) = e.erase_minutes {
            assert_eq!(
                (id.erase_minutes, id.enhanced_erase_minutes),
                (normal, enhanced),
                "{name}"
            );
        }
        let methods = method::ata_methods(&id);
        let names: Vec<&str> = methods.iter().map(|m| m.name()).collect();
        assert_eq!(names, e.methods, "{name}");
        let purge = method::strongest(&methods, medium)
            .map(|m| m.name().to_string())
            .unwrap_or_else(|_| "none".into());
        assert_eq!(purge, e.purge, "{name}");
    }
}

/// Runs `mediasan ARGS` against the fixture replayed (the hidden `--simulate replay:FILE`
/// seam: a drive that answers only what the real one answered, with media that cannot be
/// read or written): (exit code, stdout, stderr).
fn replayed(env: &crate::common::Env, file: &Path, args: &[&str]) -> (i32, String, String) {
    let spec = format!("replay:{}", file.display());
    let mut cmd = env.cmd();
    cmd.args([args[0], "/dev/replay0", "--simulate"]);
    if args[0] == "sanitize" {
        cmd.arg(format!("/dev/replay0={spec}"));
    } else {
        cmd.arg(&spec);
    }
    let out = cmd.args(&args[1..]).arg("--dry-run").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every fixture replayed through the real binary: the dry runs of `purge` (its own choice,
/// and a security erase asked for by name) and, where the policy needs no overwrite, of
/// `sanitize`, decide as the corpus's expectations (written from the standard) say.
#[test]
fn every_real_drive_replayed_through_the_binary_is_decided_as_the_standard_says() {
    let env = crate::common::Env::new();
    for f in corpus().fixture {
        let name = f.file.display().to_string();
        let file = corpus_dir().join(&f.file);
        let e = &f.expect;
        // nist-purge: the strongest Purge, or a refusal saying there is none.
        let (code, out, err) = replayed(&env, &file, &["purge"]);
        if e.purge == "none" {
            assert_ne!(code, 0, "{name}: {out}");
            assert!(err.contains("no Purge-grade command"), "{name}: {err}");
        } else {
            assert_eq!(code, 0, "{name}: {err}");
            assert!(
                out.contains(&format!("{} (Purge)", e.purge)),
                "{name}: {out}"
            );
        }
        // A security erase asked for by name: refused without the feature set, refused
        // while frozen, else planned with the drive's own time (words 89/90).
        let (code, out, err) = replayed(&env, &file, &["purge", "--method", "ata-security-erase"]);
        let has = |s: &str| e.security.iter().any(|x| x == s);
        if !has("supported") {
            assert_ne!(code, 0, "{name}: {out}");
            assert!(err.contains("does not report support"), "{name}: {err}");
        } else if has("frozen") {
            assert_ne!(code, 0, "{name}: {out}");
            assert!(err.contains("frozen"), "{name}: {err}");
            // Pointing to SANITIZE only where the drive has it.
            assert_eq!(
                err.contains("SANITIZE is not affected"),
                e.sanitize,
                "{name}: {err}"
            );
        } else {
            assert_eq!(code, 0, "{name}: {err}");
            assert!(out.contains("SECURITY ERASE UNIT"), "{name}: {out}");
            if let Some([normal, _]) = e.erase_minutes {
                assert!(
                    out.contains(&format!("the drive estimates {normal} min")),
                    "{name}: {out}"
                );
            }
            assert!(out.contains(&e.model), "{name}: {out}");
        }
        // sanitize: a solid-state drive without a Purge is, under nist-decommission, to be
        // destroyed (a spinning one is overwritten, which a replay has no media for).
        if e.medium == "flash" && e.purge == "none" {
            let (code, out, err) = replayed(&env, &file, &["sanitize"]);
            assert_eq!(code, 0, "{name}: {err}");
            assert!(
                out.contains("flash medium") && out.contains("recommendation Destroy"),
                "{name}: {out}"
            );
        }
    }
}

/// `mediasan list --json` of each real drive replayed (the hidden `--simulate replay:FILE`):
/// the model, the methods it lists and the health state are the corpus's.
#[test]
fn every_real_drive_replayed_is_listed_with_its_methods_and_health() {
    let env = crate::common::Env::new();
    let c = corpus();
    let ata = c.fixture.iter().map(|f| {
        let e = &f.expect;
        (&f.file, &e.model, &e.methods, e.health.as_deref())
    });
    let nvme = c
        .nvme
        .iter()
        .map(|f| (&f.file, &f.expect.model, &f.expect.methods, None));
    for (file, model, methods, health) in ata.chain(nvme) {
        let name = file.display().to_string();
        let spec = format!("replay:{}", corpus_dir().join(file).display());
        let out = env
            .cmd()
            .args(["list", "--json", "--simulate", &spec])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{name}: {lines:?}");
        let d = &lines[0];
        assert_eq!(d["event"], "device", "{name}");
        assert_eq!(d["path"], "/dev/replay0", "{name}");
        assert_eq!(d["model"].as_str(), Some(model.as_str()), "{name}: {d}");
        let listed: Vec<&str> = d["supports"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m.as_str())
            .collect();
        assert_eq!(listed, *methods, "{name}: {d}");
        if let Some(h) = health {
            assert_eq!(d["health"]["state"].as_str(), Some(h), "{name}: {d}");
        }
    }
}

/// `mediasan capture` of a drive, replayed, makes the same decisions: the dry runs of
/// nist-purge and of each method print the same lines (or the same refusal) for the drive
/// and for its recording. The simulated NVMe drives stand in for real ones here.
#[test]
fn a_capture_replayed_decides_as_the_drive_did() {
    let env = crate::common::Env::new();
    for features in [
        "crypto,block",
        "overwrite,dealloc",
        "format",
        "crypto,shared",
        "block,ndi",
        "crypto,opal-locked",
    ] {
        let sim = format!("nvme:4M:{features}");
        let rec = env.dir.path().join(format!("{features}.json"));
        let out = env
            .cmd()
            .args(["capture", "/dev/simnvme0", "--simulate", &sim, "-o"])
            .arg(&rec)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("serial numbers blanked") && said.contains("nothing was written"),
            "{said}"
        );
        let recording: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&rec).unwrap()).unwrap();
        assert_eq!(recording["format"], "mediasan-capture/1");
        let dry = |spec: &str, method: &[&str]| {
            let out = env
                .cmd()
                .args(["purge", "/dev/simnvme0", "--dry-run", "--simulate", spec])
                .args(method)
                .output()
                .unwrap();
            let err: Vec<String> = String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.starts_with("warning: no "))
                .map(str::to_string)
                .collect();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                err,
            )
        };
        let replay = format!("replay:{}", rec.display());
        for method in [
            &[][..],
            &["--method", "nvme-sanitize-crypto"],
            &["--method", "nvme-sanitize-block"],
            &["--method", "nvme-sanitize-overwrite"],
            &["--method", "nvme-format-user-data"],
        ] {
            assert_eq!(
                dry(&sim, method),
                dry(&replay, method),
                "{features} {method:?}"
            );
        }
        // And `list` shows the same methods, health and TCG discovery.
        let listed = |spec: &str| {
            let out = env
                .cmd()
                .args(["list", "--json", "--simulate", spec])
                .output()
                .unwrap();
            let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            (
                d["supports"].clone(),
                d["health"]["state"].clone(),
                d["tcg"].clone(),
            )
        };
        let (sim_listed, replay_listed) = (listed(&sim), listed(&replay));
        assert_eq!(sim_listed, replay_listed, "{features}");
        assert_eq!(
            sim_listed.2.is_null(),
            !features.contains("opal"),
            "{features}: {sim_listed:?}"
        );
    }
}

/// What `hdparm --Istdin` (Debian's hdparm, reading the same IDENTIFY words) says of a drive:
/// the security words as the corpus names them, the erase minutes, and the rotation line.
fn hdparm_reading(text: &str) -> (Vec<String>, Option<[u32; 2]>, String) {
    let mut security = vec![];
    let mut in_security = false;
    let mut minutes = None;
    let mut rotation = String::new();
    for l in text.lines() {
        let t = l.trim();
        if let Some(r) = t.strip_prefix("Nominal Media Rotation Rate:") {
            rotation = r.trim().to_string();
        }
        if l.starts_with("Security:") {
            in_security = true;
            continue;
        }
        if in_security && !l.starts_with('\t') {
            in_security = false;
        }
        if !in_security {
            continue;
        }
        let on = !t.starts_with("not");
        let word = t.trim_start_matches("not").trim();
        let name = match word {
            "supported" => "supported",
            "enabled" => "enabled",
            "locked" => "locked",
            "frozen" => "frozen",
            w if w.starts_with("expired") => "count-expired",
            "supported: enhanced erase" => "enhanced-erase",
            _ => "",
        };
        if on && !name.is_empty() {
            security.push(name.to_string());
        }
        if t.contains("for SECURITY ERASE UNIT") {
            let n = |s: &str| {
                s.split_whitespace()
                    .find_map(|w| {
                        w.strip_suffix("min")
                            .and_then(|m| m.trim_start_matches('>').parse().ok())
                    })
                    .unwrap_or(0)
            };
            let (normal, enhanced) = t.split_once(". ").unwrap_or((t, ""));
            minutes = Some([n(normal), n(enhanced)]);
        }
    }
    (security, minutes, rotation)
}

/// A second opinion: hdparm decodes the very IDENTIFY words of every fixture (written in its
/// own `--Istdout` format and read back with `--Istdin`), and must read security, the erase
/// times and the rotation as mediasan does.
#[test]
fn hdparm_reads_every_real_drive_as_mediasan_does() {
    if !crate::common::have("hdparm") {
        skip!("hdparm is needed (Debian package hdparm)");
    }
    for f in corpus().fixture {
        let name = f.file.display().to_string();
        let bytes = std::fs::read(corpus_dir().join(&f.file)).unwrap();
        let id = identify_of(&bytes, &name);
        let words = fixture::to_istdout(&id);
        assert_eq!(fixture::read_istdout(&words).unwrap(), *id, "{name}");
        let mut child = std::process::Command::new("hdparm")
            .arg("--Istdin")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(words.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&f.expect.model), "{name}: {text}");
        let parsed = ata::parse_identify(&id);
        let (security, minutes, rotation) = hdparm_reading(&text);
        // Security: hdparm lists the set only where the drive has it.
        assert_eq!(security, security_words(&parsed), "{name}: {text}");
        assert_eq!(security, f.expect.security, "{name}");
        if parsed.security {
            assert_eq!(
                minutes,
                Some([parsed.erase_minutes, parsed.enhanced_erase_minutes]),
                "{name}: {text}"
            );
        }
        // Rotation: "Solid State Device" for word 217 = 1, a speed for a rate, nothing for 0.
        let ours = match parsed.rotation_rate {
            1 => "Solid State Device".to_string(),
            0 => String::new(),
            r => format!("{r}"),
        };
        assert_eq!(rotation, ours, "{name}: {text}");
    }
}

/// smartctl's own reading of one IDENTIFY DEVICE: its `--identify` table as (word, bits,
/// value, what), and the `-i` lines.
struct SmartctlReading {
    words: Vec<(u16, String, String, String)>,
    info: String,
}

impl SmartctlReading {
    fn parse(text: &str) -> SmartctlReading {
        let words = text
            .lines()
            .filter_map(|l| {
                let mut t = l.split_whitespace();
                let word = t.next()?.parse::<u16>().ok()?;
                let bits = t.next()?.to_string();
                let value = t.next()?.to_string();
                let what = t.collect::<Vec<_>>().join(" ");
                Some((word, bits, value, what))
            })
            .collect();
        SmartctlReading {
            words,
            info: text.to_string(),
        }
    }

    /// The bit field of `word` that smartctl names `what` (its value as printed).
    fn field(&self, word: u16, what: &str) -> Option<&str> {
        self.words
            .iter()
            .find(|(w, bits, _, t)| *w == word && bits != "-" && t.starts_with(what))
            .map(|(_, _, v, _)| v.as_str())
    }

    fn bit(&self, word: u16, what: &str) -> bool {
        self.field(word, what) == Some("1")
    }

    /// The `-i` line `Rotation Rate:`'s value (empty where smartctl prints none).
    fn rotation(&self) -> String {
        self.info
            .lines()
            .find_map(|l| l.strip_prefix("Rotation Rate:"))
            .map(|r| r.trim().to_string())
            .unwrap_or_default()
    }
}

/// The ioctlcap shim built into `tmp`, where smartctl is there to be run under it.
fn smartctl_and_shim(tmp: &Path) -> Result<PathBuf, String> {
    if !crate::common::have("smartctl") {
        return Err("smartctl is needed (Debian package smartmontools)".into());
    }
    crate::common::ioctlcap(tmp)
}

/// A second opinion from smartctl (Debian's smartmontools), the tool drive owners trust: it
/// is handed each fixture's IDENTIFY DEVICE through SG_IO (the ioctlcap shim answers it with
/// the fixture's 512 bytes; nothing reaches a device) and must read security, sanitize,
/// rotation and AMA as mediasan does; its `-r ataioctl,2` report of those bytes, read by
/// mediasan's reader, must give the very same bytes back.
#[test]
fn smartctl_reads_every_real_drive_as_mediasan_does() {
    let tmp = tempfile::tempdir().unwrap();
    let shim = match smartctl_and_shim(tmp.path()) {
        Ok(s) => s,
        Err(e) => skip!("{e}"),
    };
    for f in corpus().fixture {
        let name = f.file.display().to_string();
        let bytes = std::fs::read(corpus_dir().join(&f.file)).unwrap();
        let id = identify_of(&bytes, &name);
        let file = tmp.path().join("identify.bin");
        std::fs::write(&file, id.as_slice()).unwrap();
        let out = std::process::Command::new("smartctl")
            .args([
                "-d",
                "sat",
                "-r",
                "ataioctl,2",
                "-i",
                "--identify",
                "/dev/null",
            ])
            .env("LD_PRELOAD", &shim)
            .env("IOCTLCAP_FAKE", "1")
            .env("IOCTLCAP_IDENTIFY", &file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&f.expect.model), "{name}: {text}");
        // smartctl's hex report reads back as the drive's own bytes.
        let again = identify_of(text.as_bytes(), &format!("{name} through smartctl"));
        assert_eq!(again, id, "{name}");
        let parsed = ata::parse_identify(&id);
        let s = SmartctlReading::parse(&text);
        // Security (word 128), as the corpus names it.
        let security: Vec<String> = [
            ("Security supported", "supported"),
            ("Security enabled", "enabled"),
            ("Security locked", "locked"),
            ("Security frozen", "frozen"),
            ("Security count expired", "count-expired"),
            ("Enhanced security erase supported", "enhanced-erase"),
        ]
        .into_iter()
        .filter(|(what, _)| s.bit(128, what))
        .map(|(_, ours)| ours.to_string())
        .collect();
        assert_eq!(security, security_words(&parsed), "{name}: {text}");
        assert_eq!(security, f.expect.security, "{name}");
        // Sanitize (word 59).
        let sanitize = s.bit(59, "Sanitize Device feature set supported");
        assert_eq!(sanitize, parsed.sanitize, "{name}: {text}");
        assert_eq!(sanitize, f.expect.sanitize, "{name}");
        for (what, ours) in [
            ("CRYPTO SCRAMBLE EXT supported", parsed.sanitize_crypto),
            ("BLOCK ERASE EXT supported", parsed.sanitize_block),
            ("OVERWRITE EXT supported", parsed.sanitize_overwrite),
        ] {
            assert_eq!(sanitize && s.bit(59, what), ours, "{name}: {what}");
        }
        // AMA (word 119 bit 8, believed only where bits 15:14 are 01b as smartctl says they
        // must be).
        let ama = s.field(119, "Must be set to 0x1") == Some("0x1")
            && s.bit(119, "Accessible Max Address Config feature set supported");
        assert_eq!(ama, parsed.ama_supported, "{name}: {text}");
        if let Some(want) = f.expect.ama {
            assert_eq!(ama, want, "{name}");
        }
        // Rotation (word 217): smartctl says nothing for 0.
        let ours = match parsed.rotation_rate {
            0 => String::new(),
            1 => "Solid State Device".to_string(),
            r => format!("{r} rpm"),
        };
        assert_eq!(s.rotation(), ours, "{name}: {text}");
    }
}

/// Health from a real drive's SMART data, read through the replayed drive's door as `list`,
/// the bench and the certificates read it, with smartctl as the judge: smartctl is handed the
/// same SMART READ DATA through SG_IO (the ioctlcap shim, `IOCTLCAP_SMART`) and must read
/// every attribute (id, value, worst, raw) as mediasan does; the state is the corpus's.
#[test]
fn every_real_drive_s_smart_attributes_are_read_as_smartctl_reads_them() {
    let tmp = tempfile::tempdir().unwrap();
    let shim = match smartctl_and_shim(tmp.path()) {
        Ok(s) => s,
        Err(e) => skip!("{e}"),
    };
    let mut checked = 0;
    for f in corpus().fixture {
        let name = f.file.display().to_string();
        let bytes = std::fs::read(corpus_dir().join(&f.file)).unwrap();
        let r = fixture::Recording::read(&bytes, &name).unwrap();
        let Some(smart) = r.exchanges.iter().find(|x| x.command == "SMART READ DATA") else {
            assert!(
                f.expect.health.is_none(),
                "{name}: health without SMART data"
            );
            continue;
        };
        let door = mediasan::device::replay::Replay::new(&r).unwrap();
        let h = mediasan::device::health::read_block("sata", &door, true);
        assert_eq!(Some(&h.state), f.expect.health.as_ref(), "{name}: {h:?}");
        let ours: Vec<(u8, u8, u8, u64)> = h
            .ata
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no ATA health: {h:?}"))
            .attributes
            .iter()
            .map(|a| (a.id, a.normalized, a.worst, a.raw))
            .collect();
        let id = identify_of(&bytes, &name);
        let (id_file, smart_file) = (
            tmp.path().join("identify.bin"),
            tmp.path().join("smart.bin"),
        );
        std::fs::write(&id_file, id.as_slice()).unwrap();
        std::fs::write(&smart_file, fixture::unhex(&smart.data).unwrap()).unwrap();
        let out = std::process::Command::new("smartctl")
            .args(["-d", "sat", "-A", "-j", "/dev/null"])
            .env("LD_PRELOAD", &shim)
            .env("IOCTLCAP_FAKE", "1")
            .env("IOCTLCAP_IDENTIFY", &id_file)
            .env("IOCTLCAP_SMART", &smart_file)
            .output()
            .unwrap();
        let j: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: smartctl -j: {e}"));
        let theirs: Vec<(u8, u8, u8, u64)> = j["ata_smart_attributes"]["table"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: smartctl read no attributes: {j}"))
            .iter()
            .map(|a| {
                let n = |v: &serde_json::Value| v.as_u64().unwrap();
                (
                    n(&a["id"]) as u8,
                    n(&a["value"]) as u8,
                    n(&a["worst"]) as u8,
                    n(&a["raw"]["value"]),
                )
            })
            .collect();
        assert_eq!(ours, theirs, "{name}");
        checked += 1;
    }
    assert!(checked >= 6, "{checked} drives with SMART data");
}

/// The hidden-area check (HPA, AMA, DCO) on each real drive's replayed answers: a drive with
/// none of those feature sets has no hidden sectors, and its reported size is its own; a drive
/// with one of them needs an answer the recording does not hold (READ/GET NATIVE MAX ADDRESS,
/// DCO IDENTIFY), so the check says it cannot tell, never "no hidden area".
#[test]
fn the_hidden_area_check_on_real_drives_never_claims_more_than_their_answers_show() {
    for f in corpus().fixture {
        let name = f.file.display().to_string();
        let bytes = std::fs::read(corpus_dir().join(&f.file)).unwrap();
        let r = fixture::Recording::read(&bytes, &name).unwrap();
        let door = mediasan::device::replay::Replay::new(&r).unwrap();
        let id = ata::parse_identify(&identify_of(&bytes, &name));
        let got = mediasan::device::hidden::query_ata(&door);
        if id.hpa_supported || id.ama_supported || id.dco_supported {
            // (All seven ATA drives here have HPA: each is asked its native max address, or
            // refused as a 28-bit drive, and the recording does not hold the answer.)
            let e = got.expect_err(&name).to_string();
            assert!(
                e.contains("was not recorded answering") || e.contains("28-bit"),
                "{name}: {e}"
            );
        } else {
            let (snapshot, _) = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(snapshot.hidden_sectors, 0, "{name}");
            assert_eq!(snapshot.native_max_lba, None, "{name}");
            if let Some(sectors) = f.expect.sectors {
                assert_eq!(snapshot.sectors, sectors, "{name}");
            }
        }
    }
}

/// Every SANICAP value real drives reported decodes to the methods and the NDI bit NVMe says.
#[test]
fn every_real_sanicap_value_is_read_as_nvme_says() {
    let c = corpus();
    assert!(c.sanicap.len() >= 5);
    for s in c.sanicap {
        let mut id = [0u8; 4096];
        id[328..332].copy_from_slice(&s.value.to_le_bytes());
        let parsed = mediasan::device::nvme::parse_controller(&id);
        let names: Vec<&str> = method::nvme_purges(&parsed)
            .iter()
            .map(|m| m.name())
            .collect();
        assert_eq!(names, s.methods, "{:#010x} ({})", s.value, s.drives);
        assert_eq!(
            parsed.no_deallocate_inhibited, s.no_deallocate_inhibited,
            "{:#010x}",
            s.value
        );
    }
}

/// Every real NVMe controller: its provenance kept, its serial blank, decoded as NVMe says, and
/// replayed through the binary, nist-purge decides as expected.
#[test]
fn every_real_nvme_controller_is_decoded_and_decided_as_nvme_says() {
    let env = crate::common::Env::new();
    let c = corpus();
    assert!(!c.nvme.is_empty());
    for f in c.nvme {
        let name = f.file.display().to_string();
        assert!(
            f.serial_scrubbed && !f.drive.is_empty() && !f.why.is_empty() && !f.licence.is_empty(),
            "{name}"
        );
        assert!(
            f.source.contains(" @ ") && f.original_sha256.len() == 64,
            "{name}"
        );
        let file = corpus_dir().join(&f.file);
        let id: [u8; 4096] = std::fs::read(&file).unwrap().try_into().unwrap();
        assert_eq!(&id[4..24], &[b' '; 20], "{name}: serial blank");
        let c = mediasan::device::nvme::parse_controller(&id);
        let e = &f.expect;
        assert_eq!(
            (c.model.as_str(), c.firmware.as_str()),
            (e.model.as_str(), e.firmware.as_str()),
            "{name}"
        );
        assert_eq!(
            u32::from_le_bytes(id[80..84].try_into().unwrap()),
            e.version,
            "{name}"
        );
        assert_eq!(
            u32::from_le_bytes(id[328..332].try_into().unwrap()),
            e.sanicap,
            "{name}"
        );
        let mut methods = method::nvme_purges(&c);
        if c.format {
            if c.format_crypto {
                methods.push(method::Method::NvmeFormatCrypto);
            }
            methods.push(method::Method::NvmeFormatUserData);
        }
        let names: Vec<&str> = methods.iter().map(|m| m.name()).collect();
        assert_eq!(names, e.methods, "{name}");
        let (code, out, err) = replayed(&env, &file, &["purge"]);
        if e.purge == "none" {
            assert_ne!(code, 0, "{name}: {out}");
            assert!(err.contains("no Purge-grade command"), "{name}: {err}");
        } else {
            assert!(
                out.contains(&format!("{} (Purge)", e.purge)),
                "{name}: {out}"
            );
        }
    }
}

/// `capture` of what is not a drive, or into a folder that does not exist, is one line and
/// exit 2, and writes nothing.
#[test]
fn capture_refuses_what_is_not_a_drive_in_one_line() {
    let env = crate::common::Env::new();
    let img = env.dir.path().join("disk.img");
    std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
    let out = env.cmd().arg("capture").arg(&img).output().unwrap();
    crate::common::assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("is not a block device"), "{err}");
    assert!(out.stdout.is_empty());
    // A path that does not exist: no hint of `--create`, which only `wipe` has.
    let out = env
        .cmd()
        .arg("capture")
        .arg(env.dir.path().join("missing"))
        .output()
        .unwrap();
    crate::common::assert_code(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not exist; give an existing block device or image file")
            && !err.contains("--create"),
        "{err}"
    );
    let out = env
        .cmd()
        .args([
            "capture",
            "/dev/simnvme0",
            "--simulate",
            "nvme:4M:crypto",
            "-o",
        ])
        .arg(env.dir.path().join("no/such/folder.json"))
        .output()
        .unwrap();
    crate::common::assert_code(&out, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write"));
}
