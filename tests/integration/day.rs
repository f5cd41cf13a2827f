//! A technician's day: per-drive records, the end-of-run summary, confirming and logging a
//! session without a terminal, the progress display at 80 and 160 columns (tmux), `list`.

use std::path::{Path, PathBuf};

use assert_cmd::assert::OutputAssertExt;
use mediasan::cert::{Certificate, Verdict};
use predicates::prelude::*;

use crate::common::*;

const MIB: usize = 1 << 20;

/// Three 1 MiB images with distinct contents.
fn three(env: &Env) -> [PathBuf; 3] {
    let t = [env.path("a.img"), env.path("b.img"), env.path("c.img")];
    for (i, p) in t.iter().enumerate() {
        make_file(p, MIB, 0x41 + i as u8);
    }
    t
}

/// The certificates in `dir`, by the target each names.
fn by_target(env: &Env, dir: &str, target: &Path) -> Certificate {
    let want = target.canonicalize().unwrap().display().to_string();
    env.certificates(&env.path(dir))
        .iter()
        .map(|c| read_cert(c))
        .find(|c| c.media.path == want)
        .unwrap_or_else(|| panic!("no certificate for {want}"))
}

#[test]
fn each_target_gets_its_own_record_from_repeated_flags_or_a_manifest() {
    let env = Env::new();
    let [a, b, c] = three(&env);
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--cert-dir",
        "c1",
        "--operator",
        "Jane Doe",
        "--asset-tag",
        "A-1",
        "--asset-tag",
        "A-2",
        "--asset-tag",
        "A-3",
        "--destination",
        "recycling facility",
        "--note",
        "batch 7",
        &a,
        &b,
        &c
    );
    assert_code(&out, 0);
    for (t, tag) in [(&a, "A-1"), (&b, "A-2"), (&c, "A-3")] {
        let cert = by_target(&env, "c1", t);
        assert_eq!(cert.media.asset_tag, tag, "in target order");
        assert_eq!(
            cert.destination, "recycling facility",
            "one value: every target"
        );
        assert!(cert.notes.iter().any(|n| n == "batch 7"));
    }

    // A manifest keyed by target: another name for the same file matches it.
    let link = env.path("b-link.img");
    std::os::unix::fs::symlink(&b, &link).unwrap();
    let manifest = env.path("drives.csv");
    std::fs::write(
        &manifest,
        format!(
            "target,Asset Tag,note,data_backed_up\n{},M-1,went back under RMA 42,yes\n{},M-2,,no\n/dev/not-here,M-9,,\n",
            a.display(),
            link.display()
        ),
    )
    .unwrap();
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--json",
        "--cert-dir",
        "c2",
        "--operator",
        "Jane Doe",
        "--manifest",
        &manifest,
        &a,
        &b
    );
    assert_code(&out, 0);
    let (ca, cb) = (by_target(&env, "c2", &a), by_target(&env, "c2", &b));
    assert_eq!(
        (
            ca.media.asset_tag.as_str(),
            ca.media.data_backed_up.as_str()
        ),
        ("M-1", "yes")
    );
    assert_eq!(
        (
            cb.media.asset_tag.as_str(),
            cb.media.data_backed_up.as_str()
        ),
        ("M-2", "no")
    );
    assert!(ca.notes.iter().any(|n| n == "went back under RMA 42"));
    assert!(
        !cb.notes.iter().any(|n| n.contains("RMA")),
        "a row's note is its own"
    );
    // Scripts see each target's asset tag in its result event.
    let results: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["event"] == "result")
        .collect();
    assert_eq!(results.len(), 2);
    assert!(results.iter().any(|r| r["asset_tag"] == "M-1"));
    assert!(results.iter().any(|r| r["asset_tag"] == "M-2"));
}

#[test]
fn records_that_would_mislead_an_auditor_are_refused_before_any_byte() {
    let env = Env::new();
    let [a, b, c] = three(&env);
    let before: Vec<String> = [&a, &b, &c].iter().map(|p| digest(p)).collect();
    let manifest = env.path("m.csv");
    std::fs::write(
        &manifest,
        format!("target,asset_tag\n{},M-1\n", a.display()),
    )
    .unwrap();
    let org = env.path("org.toml");
    std::fs::write(
        &org,
        "operator = \"Jane\"\nrequire = [\"operator\", \"asset_tag\"]\n",
    )
    .unwrap();
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec![
                "--asset-tag".as_ref(),
                "X".as_ref(),
                a.as_os_str(),
                b.as_os_str(),
            ],
            "--asset-tag is given once for 2 targets",
        ),
        (
            vec![
                "--classification".as_ref(),
                "x".as_ref(),
                "--classification".as_ref(),
                "y".as_ref(),
                a.as_os_str(),
                b.as_os_str(),
                c.as_os_str(),
            ],
            "--classification is given 2 times for 3 targets",
        ),
        (
            vec![
                "--asset-tag".as_ref(),
                "T".as_ref(),
                "--asset-tag".as_ref(),
                "T".as_ref(),
                a.as_os_str(),
                b.as_os_str(),
            ],
            "asset tag \"T\" is given to both",
        ),
        (
            vec![
                "--manifest".as_ref(),
                manifest.as_os_str(),
                a.as_os_str(),
                b.as_os_str(),
            ],
            "b.img is not in the manifest",
        ),
        (
            vec![
                "--manifest".as_ref(),
                manifest.as_os_str(),
                "--asset-tag".as_ref(),
                "Z".as_ref(),
                a.as_os_str(),
            ],
            "--asset-tag is given both as a flag and as a column",
        ),
        (
            vec!["--config".as_ref(), org.as_os_str(), a.as_os_str()],
            "the organization file requires asset_tag, which is empty",
        ),
    ];
    for (args, want) in cases {
        let out = env
            .cmd()
            .args(["wipe", "--yes", "--cert-dir", "c"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?}, got {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    let after: Vec<String> = [&a, &b, &c].iter().map(|p| digest(p)).collect();
    assert_eq!(before, after, "nothing was written");
    assert!(env.certificates(&env.path("c")).is_empty());

    // Not required, but empty: said before the wipe starts, and the wipe goes on.
    let out = mediasan!(env, "wipe", "--yes", "--cert-dir", "c", &a);
    assert_code(&out, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: no operator"), "{err}");
    assert!(err.contains("warning: no asset tag for"), "{err}");
}

#[test]
fn a_fail_among_passes_ends_in_a_summary_table_in_target_order() {
    let env = Env::new();
    let full = match small_tmpfs(&env, "full", "1m") {
        Ok(m) => m,
        Err(why) => skip!("{why}"),
    };
    // A sparse 8 MiB image on a 1 MiB filesystem: writes past ~1 MiB fail with ENOSPC.
    let bad = full.at.join("x.img");
    std::fs::File::create(&bad)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let (a, c) = (env.path("a.img"), env.path("c.img"));
    make_file(&a, 2 * MIB, 1);
    make_file(&c, 2 * MIB, 3);
    let out = mediasan!(
        env,
        "wipe",
        "--yes",
        "--cert-dir",
        "certs",
        "--operator",
        "Jane",
        "--asset-tag",
        "A-1",
        "--asset-tag",
        "X-2",
        "--asset-tag",
        "C-3",
        &a,
        &bad,
        &c
    );
    assert_code(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let at = lines
        .iter()
        .position(|l| {
            l.starts_with("Summary: 3 targets - 1 FAIL, 2 PASS (certificates in ")
                && l.ends_with("/certs)")
        })
        .unwrap_or_else(|| panic!("no summary in:\n{err}"));
    assert_eq!(at + 5, lines.len(), "the summary ends the run:\n{err}");
    let rows = &lines[at + 2..];
    for (row, (result, target, tag)) in rows.iter().zip([
        ("PASS", &a, "A-1"),
        ("FAIL", &bad, "X-2"),
        ("PASS", &c, "C-3"),
    ]) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[0], result, "{row}");
        assert_eq!(cells[1], target.display().to_string(), "{row}");
        assert!(cells.contains(&tag), "{row}");
        let cert = env
            .path("certs")
            .canonicalize()
            .unwrap()
            .join(cells.last().unwrap());
        assert!(cert.exists(), "{row}: the certificate exists");
    }
    assert!(!err.contains('\x1b'), "no colour in a log");
    // The FAIL's own lines: the result and certificate, then its reasons, short.
    let fail = lines
        .iter()
        .position(|l| l.contains("x.img: FAIL - certificate"))
        .expect("the FAIL line");
    assert!(
        lines[fail + 1].contains("write failed in") && lines[fail + 1].contains("ranges"),
        "{err}"
    );
    assert!(
        lines.iter().all(|l| l.chars().count() < 400),
        "no 950-character line:\n{err}"
    );
    let cert = by_target(&env, "certs", &bad);
    assert_eq!(cert.result, Verdict::Fail);
    assert!(
        cert.sanitization.passes[0].errors.len() > 1,
        "the certificate keeps every range"
    );
}

#[test]
fn a_single_target_has_no_summary_table() {
    let env = Env::new();
    let out = mediasan!(env, "wipe", "--yes", "--create", "1M", &env.path("one.img"));
    assert_code(&out, 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("Summary:"), "{err}");
    env.cmd()
        .args(["wipe", "--yes", "--asset-tag", "A", "--asset-tag", "B"])
        .arg(env.path("one.img"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("given 2 times for 1 target:"));
}

/// Keeps a screen for people to look at (target/screens/NAME.txt) and shows it in the output.
fn keep_screen(name: &str, screen: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screens");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join(format!("{name}.txt")), screen);
    eprintln!("--- {name} ---\n{screen}");
}

/// A bar line as drawn: `name [===>   ]  31% pass 1/35 ... ETA 9s`.
fn bar_lines(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| l.contains(" [") && l.contains("] ") && l.contains('%'))
        .collect()
}

fn bars_at(width: u16) {
    let env = Env::new();
    let long = "disk-by-id-ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0123456.img";
    // Large enough (sparse) that every pass takes a while even at memory speed.
    for n in ["a.img", long, "c.img"] {
        std::fs::File::create(env.path(n))
            .unwrap()
            .set_len(1 << 30)
            .unwrap();
    }
    let tmux = match Tmux::start(
        &env,
        width,
        30,
        &format!(
            "$M wipe --yes --policy gutmann --cert-dir certs --operator T \
             --asset-tag A-1 --asset-tag B-2 --asset-tag C-3 a.img {long} c.img; \
             r=$?; stty -a | grep -o -- '-*echoctl'; (exit $r)"
        ),
    ) {
        Ok(t) => t,
        Err(why) => skip!("{why}"),
    };
    // Every bar drawn, with its rate and the whole wipe's ETA.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let screen = loop {
        let s = tmux.screen();
        let bars = bar_lines(&s);
        if bars.len() == 3
            && bars
                .iter()
                .all(|b| (b.contains("MiB/s") || b.contains("GiB/s")) && b.contains("ETA "))
        {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "no three bars:\n{s}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    keep_screen(&format!("bars-{width}"), &screen);
    let bars = bar_lines(&screen);
    assert!(bars[0].starts_with("a.img "), "in target order:\n{screen}");
    assert!(
        bars[1].starts_with('…') || bars[1].starts_with("disk-by-id"),
        "{screen}"
    );
    assert!(
        bars[1].contains("WD-WCC7K0123456"),
        "the distinctive end is kept:\n{screen}"
    );
    assert!(bars[2].starts_with("c.img "), "{screen}");
    for b in &bars {
        // One terminal line each: the bar, its percent, the stage, rate and ETA did not wrap.
        assert!(b.chars().count() <= usize::from(width), "{b}");
        assert!(b.contains("pass ") && b.contains("/35"), "{b}");
    }
    let opening: Vec<usize> = bars
        .iter()
        .map(|b| b.chars().take_while(|&c| c != '[').count())
        .collect();
    assert!(
        opening.windows(2).all(|w| w[0] == w[1]),
        "bars line up:\n{screen}"
    );

    // Ctrl-C: every target stops, no bar is left behind, the summary says what happened.
    let _ = std::process::Command::new("tmux")
        .arg("-S")
        .arg(env.path(&format!("tmux-{width}.sock")))
        .args(["send-keys", "C-c"])
        .status();
    let end = tmux.wait_for("[exit 130]", 60).unwrap();
    keep_screen(&format!("interrupted-{width}"), &end);
    assert!(
        bar_lines(&end).is_empty(),
        "a bar stayed after Ctrl-C:\n{end}"
    );
    assert!(end.contains("Summary: 3 targets - 3 INCOMPLETE"), "{end}");
    // The echo of ^C, off while the bars showed, is back.
    assert!(end.lines().any(|l| l == "echoctl"), "{end}");
    for l in end.lines() {
        assert!(l.chars().count() <= usize::from(width), "{l}");
    }
}

#[test]
fn bars_fit_80_columns_stay_in_order_and_go_on_ctrl_c() {
    bars_at(80);
}

#[test]
fn bars_fit_160_columns_stay_in_order_and_go_on_ctrl_c() {
    bars_at(160);
}

#[test]
fn the_prompt_comes_on_the_terminal_when_output_goes_to_tee() {
    let env = Env::new();
    make_file(&env.path("t.img"), MIB, 0x11);
    make_file(&env.path("u.img"), MIB, 0x12);
    let tmux = match Tmux::start(
        &env,
        100,
        30,
        "$M wipe --operator T --asset-tag A-1 t.img 2>&1 | tee out.txt; \
         $M wipe --operator T --asset-tag A-2 u.img </dev/null 2>&1 | tee out2.txt",
    ) {
        Ok(t) => t,
        Err(why) => skip!("{why}"),
    };
    tmux.wait_for("Type 'yes'", 30).unwrap();
    tmux.type_line("yes");
    let first = tmux.wait_for("u.img: image file", 30).unwrap();
    tmux.type_line("yes");
    let screen = tmux.wait_for("[exit 0]", 60).unwrap();
    keep_screen("confirm-through-tee", &screen);
    assert!(
        first.contains("operator: T") && first.contains("[asset tag A-1]"),
        "{first}"
    );
    for log in ["out.txt", "out2.txt"] {
        let text = std::fs::read_to_string(env.path(log)).unwrap();
        assert!(text.contains("PASS - certificate"), "{log}: {text}");
        assert!(!text.contains("no terminal to confirm"), "{log}: {text}");
    }
    assert_eq!(env.certificates(env.dir.path()).len(), 2);
}

#[test]
fn without_a_terminal_progress_is_a_plain_line_every_interval_and_the_log_keeps_all() {
    let env = Env::new();
    let img = env.path("cron.img");
    // Large enough (sparse) that the wipe takes several progress intervals at memory speed.
    std::fs::File::create(&img)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let err = std::fs::File::create(env.path("stderr.txt")).unwrap();
    let out = env
        .cmd()
        .args([
            "--log",
            "session.log",
            "wipe",
            "--yes",
            "--operator",
            "cron",
            "--asset-tag",
            "A-9",
        ])
        .args(["--policy", "dod-5220.22-m", "--progress-interval", "0.1"])
        .arg(&img)
        .env("TERM", "dumb")
        .stderr(err)
        .output()
        .unwrap();
    let stderr = std::fs::read_to_string(env.path("stderr.txt")).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let progress: Vec<&str> = stderr.lines().filter(|l| l.contains(" % - ")).collect();
    assert!(
        progress.len() >= 2,
        "progress lines while it runs:\n{stderr}"
    );
    // The whole wipe: three passes of 1 GiB and a 10 % sample (102.4 MiB), in percent.
    let pct = |l: &str| -> f64 {
        l.split(": ")
            .nth(1)
            .unwrap()
            .split(" %")
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        progress.windows(2).all(|w| pct(w[0]) <= pct(w[1])),
        "{stderr}"
    );
    // The percentage is the whole wipe's; a pass's bytes count against the drive's size
    // (1 GiB), never against the passes and the sample added up (3.10 GiB).
    assert!(
        progress
            .iter()
            .any(|l| l.contains("pass ") && l.contains(" of 1.00 GiB")),
        "{stderr}"
    );
    assert!(!stderr.contains(" of 3.10 GiB"), "{stderr}");
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\r'),
        "no terminal codes:\n{stderr}"
    );
    let log = std::fs::read_to_string(env.path("session.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines[0].contains("started: ") && lines[0].contains("--operator cron"),
        "{log}"
    );
    assert!(lines.last().unwrap().ends_with("exit code 0"), "{log}");
    assert!(
        log.contains("PASS - certificate") && log.contains(" % - pass"),
        "{log}"
    );
    for l in &lines {
        let stamp = l.split(' ').next().unwrap();
        assert!(
            stamp.len() == 20 && stamp.ends_with('Z'),
            "every line has its UTC time: {l}"
        );
    }
}

/// The `device` events of `list --json`.
fn listed(env: &Env) -> Vec<serde_json::Value> {
    let out = mediasan!(env, "list", "--json");
    assert_code(&out, 0);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn list_counts_like_people_and_shows_wipes_running_and_unfinished() {
    let env = Env::new();
    let (small_file, big_file) = (env.path("small.img"), env.path("big.img"));
    make_file(&small_file, 8 * MIB, 1);
    make_file(&big_file, 8 * MIB, 2);
    let free = |n: &u32| !Path::new(&format!("/sys/block/loop{n}/loop")).exists();
    let Some(small_n) = (90..100).find(free) else {
        skip!("no free loop device number below 100");
    };
    let (big_n, _) = free_loop_numbers();
    let (small, big) = match (
        LoopDev::attach_at(&small_file, small_n),
        LoopDev::attach_at(&big_file, big_n),
    ) {
        (Ok(s), Ok(b)) => (s, b),
        (Err(why), _) | (_, Err(why)) => skip!("{why}"),
    };
    let (s, b) = (
        small.dev.display().to_string(),
        big.dev.display().to_string(),
    );
    let paths: Vec<String> = listed(&env)
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_string())
        .collect();
    let at = |p: &str| paths.iter().position(|x| x == p).unwrap();
    assert!(
        at(&s) < at(&b),
        "loop{small_n} before loop{big_n}: {paths:?}"
    );
    let table = String::from_utf8_lossy(&mediasan!(env, "list").stdout).to_string();
    assert!(
        table.find(&format!("{s} ")) < table.find(&format!("{b} ")),
        "{table}"
    );

    // A wipe under way: another mediasan, `list` and a second wipe name it and its PID.
    let mut child = crate::trust::held(&env, &big.dev, "pass-start:1", &[]);
    let pid = child.id();
    let dev = listed(&env)
        .into_iter()
        .find(|d| d["path"] == b.as_str())
        .unwrap();
    let why = dev["in_use"].as_str().unwrap_or_default().to_string();
    assert!(
        why.contains(&format!("being wiped by another mediasan (PID {pid})")),
        "{dev}"
    );
    let out = mediasan!(env, "wipe", "--yes", &big.dev);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("being wiped by another mediasan") && !err.contains("unfinished wipe"),
        "{err}"
    );
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    assert_eq!(child.wait().unwrap().code(), Some(130));

    // Stopped: it has an unfinished wipe, and says how to go on.
    let dev = listed(&env)
        .into_iter()
        .find(|d| d["path"] == b.as_str())
        .unwrap();
    assert_eq!(dev["unfinished_wipe"], true, "{dev}");
    assert_eq!(dev["in_use"], serde_json::Value::Null, "{dev}");
    let table = String::from_utf8_lossy(&mediasan!(env, "list").stdout).to_string();
    let row = table
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{b} ")))
        .unwrap();
    assert!(row.contains("unfinished wipe"), "{table}");
    let small_dev = listed(&env)
        .into_iter()
        .find(|d| d["path"] == s.as_str())
        .unwrap();
    assert_eq!(small_dev["unfinished_wipe"], false);
}

#[test]
fn a_second_wipe_of_an_image_being_wiped_names_the_first() {
    let env = Env::new();
    let img = env.path("busy.img");
    make_file(&img, 8 * MIB, 3);
    let mut child = crate::trust::held(&env, &img, "pass-start:1", &[]);
    let pid = child.id();
    let out = mediasan!(env, "wipe", "--yes", &img);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("being wiped by another mediasan (PID {pid})")),
        "{err}"
    );
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

#[test]
fn a_tilde_in_the_organization_file_is_home_and_type_errors_speak_plainly() {
    let env = Env::new();
    let home = env.path("home");
    std::fs::create_dir(&home).unwrap();
    let org = env.path("org.toml");
    std::fs::write(&org, "cert_dir = \"~/certs\"\noperator = \"Jane\"\n").unwrap();
    let img = env.path("t.img");
    make_file(&img, MIB, 1);
    let out = env
        .cmd()
        .env("HOME", &home)
        .args(["wipe", "--yes", "--asset-tag", "A", "--config"])
        .arg(&org)
        .arg(&img)
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(env.certificates(&home.join("certs")).len(), 1);
    assert!(!env.path("~").exists(), "no folder named ~");

    let policy = env.path("p.toml");
    std::fs::write(
        &policy,
        "name = \"mine\"\ndescription = \"x\"\n[verify]\nmode = \"sample\"\npercent = \"ten\"\n[[pass]]\npattern = \"random\"\n",
    )
    .unwrap();
    let out = mediasan!(env, "wipe", "--dry-run", "--policy", &policy, &img);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 5") && err.contains("expected a whole number"),
        "{err}"
    );
    assert!(!err.contains("u8") && !err.contains("struct"), "{err}");
}

/// Per-pass lines do not flood a terminal: where the bars show each pass, a multi-pass run of
/// two targets prints no "pass N/M" line above them (the session log keeps one per target
/// per pass); without a terminal, one line per target per pass, as before.
#[test]
fn passes_are_lines_in_a_log_and_bars_on_a_screen() {
    let env = Env::new();
    let tmux = match Tmux::start(
        &env,
        80,
        30,
        "$M wipe --yes --policy dod-5220.22-m --create 8M --cert-dir certs --log session.log \
         a.img b.img",
    ) {
        Ok(t) => t,
        Err(why) => skip!("{why}"),
    };
    let screen = tmux
        .wait_for("[exit 0]", 120)
        .unwrap_or_else(|e| panic!("{e}"));
    keep_screen("passes-80", &screen);
    assert!(!screen.contains("pass 1/3"), "{screen}");
    assert!(
        screen.contains("a.img: PASS") && screen.contains("b.img: PASS"),
        "{screen}"
    );
    let log = std::fs::read_to_string(env.path("session.log")).unwrap();
    for t in ["a.img", "b.img"] {
        for p in 1..=3 {
            let line = format!("{t}: pass {p}/3 ");
            assert_eq!(log.matches(&line).count(), 1, "{line} in the log:\n{log}");
        }
    }
    // No terminal: the lines are the record.
    let out = env
        .cmd()
        .args([
            "wipe",
            "--yes",
            "--policy",
            "dod-5220.22-m",
            "--cert-dir",
            "certs",
        ])
        .args([env.path("a.img"), env.path("b.img")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(text.matches(": pass ").count(), 6, "{text}");
}

/// Ctrl-C under `2>&1 | tee log` ends `tee` too: the last words of the interrupted wipe (its
/// INCOMPLETE certificate and how to resume) still reach the terminal, through /dev/tty.
#[test]
fn ctrl_c_under_tee_still_shows_the_last_words() {
    let env = Env::new();
    let tmux = match Tmux::start(
        &env,
        100,
        30,
        "$M wipe --yes --create 4M --cert-dir certs --test-hold pass-start:1 x.img 2>&1 | tee out.log",
    ) {
        Ok(t) => t,
        Err(why) => skip!("{why}"),
    };
    tmux.wait_for("test_hold", 60)
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = std::process::Command::new("tmux")
        .arg("-S")
        .arg(env.path("tmux-100.sock"))
        .args(["send-keys", "C-c"])
        .status();
    let end = tmux.wait_for("[exit", 60).unwrap_or_else(|e| panic!("{e}"));
    // The certificate was written, and the screen says so although tee is gone.
    let end = match tmux.wait_for("--resume", 10) {
        Ok(s) => s,
        Err(_) => end,
    };
    keep_screen("ctrl-c-under-tee", &end);
    assert!(
        end.contains("INCOMPLETE - certificate") && end.contains("x.img --resume`"),
        "{end}"
    );
    assert_eq!(env.certificates(&env.path("certs")).len(), 1);
}
