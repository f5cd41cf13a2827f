//! Plain settings: the command line and the organization file turned, once, into the values
//! the library flows take. Every "flag, else the organization file, else the default" lives
//! here; nothing below a command's `run` sees a clap type.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{DeviceOpts, OnErrorArg, TransportArg, VerifyArg, WipeArgs, WipeOpts};
use crate::config::Config;
use crate::contract::OnError;
use crate::device::hidden;
use crate::error::{Error, Result};
use crate::plan::Overrides;
use crate::policy::{self, Policy, VerifyMode};
use crate::records::Records;
use crate::writer::{FillBudget, IoConfig, Watchdog};

/// The certificate folder: `--cert-dir`, else the organization file's, else the current one.
pub fn cert_dir(flag: Option<&PathBuf>, c: &Config) -> PathBuf {
    flag.cloned()
        .or_else(|| c.cert_dir.clone())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `--no-deallocate` as the purge flow takes it.
fn no_deallocate(a: crate::cli::NoDeallocateArg) -> crate::purge::flow::NoDeallocate {
    use crate::cli::NoDeallocateArg as A;
    use crate::purge::flow::NoDeallocate as N;
    match a {
        A::Auto => N::Auto,
        A::On => N::On,
        A::Off => N::Off,
    }
}

/// The signing key as configured, and whether the default one may be made without a
/// terminal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigningKey {
    /// `--key`, else `MEDIASAN_KEY`, else the organization file's `key`; `None`: the default
    /// key in the config folder.
    pub path: Option<PathBuf>,
    /// `--create-key`, `MEDIASAN_CREATE_KEY=1` or `create_key = true`: a run without a terminal
    /// may create the default key on first use (with one, it always may: it is announced).
    pub may_create: bool,
}

/// The signing key: `--key`, else `MEDIASAN_KEY`, else the organization file's, else the
/// default key; see [`SigningKey`].
pub fn key(flag: Option<&PathBuf>, create: bool, c: &Config) -> SigningKey {
    key_from(flag, create, c, |name| std::env::var_os(name))
}

fn key_from(
    flag: Option<&PathBuf>,
    create: bool,
    c: &Config,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> SigningKey {
    let from_env = env("MEDIASAN_KEY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let env_allows = env("MEDIASAN_CREATE_KEY").is_some_and(|v| {
        matches!(
            v.to_string_lossy().to_ascii_lowercase().as_str(),
            "1" | "yes" | "true"
        )
    });
    SigningKey {
        path: flag.cloned().or(from_env).or_else(|| c.key.clone()),
        may_create: create || env_allows || c.create_key,
    }
}

/// Everything a wipe needs, decided.
/// Writes (and verification reads) in flight for one target alone.
pub const QUEUE_DEPTH: usize = 4;

/// In-flight I/O per target when `targets` share `cpus`: [`QUEUE_DEPTH`] alone, and about
/// four per CPU in all when there are many (at least one each). On a 2-core machine 16 loop
/// devices at depth 1 together wrote 11 GB/s, at depth 4 8.6 GB/s (64 writes and their
/// threads competing for two cores); `--queue-depth` overrides it.
pub fn shared_depth(depth: usize, given: bool, targets: usize, cpus: usize) -> usize {
    if given {
        return depth;
    }
    (QUEUE_DEPTH.max(4 * cpus) / targets.max(1)).clamp(1, depth)
}

#[derive(Clone, Debug)]
pub struct Wipe {
    pub targets: Vec<PathBuf>,
    /// `--create SIZE`.
    pub create: Option<u64>,
    pub policy: Policy,
    /// `--policy` as given (a resumed wipe must not name another).
    pub policy_flag: Option<String>,
    pub overrides: Overrides,
    pub transport: hidden::Transport,
    /// `--restore-hidden`.
    pub restore_hidden: bool,
    pub yes: bool,
    pub dry_run: bool,
    /// `--all-or-nothing`: one refused target refuses the whole run.
    pub all_or_nothing: bool,
    pub resume: bool,
    pub restart: bool,
    pub json: bool,
    /// `--progress-interval`.
    pub progress_interval: Duration,
    pub journal_dir: PathBuf,
    pub checkpoint: Duration,
    pub cert_dir: PathBuf,
    /// `--cert-dir` was given (a resumed wipe's folder must then be the same).
    pub cert_dir_given: bool,
    pub key: SigningKey,
    /// Each target's record, once the targets are known.
    pub records: Records,
    /// The I/O pipeline (its `on_error` is the flag's, else the policy's).
    pub io: IoConfig,
    /// `--queue-depth` was given: every target gets it, however many there are.
    pub queue_depth_given: bool,
    /// `--fail-slow`.
    pub fail_slow: bool,
    /// `--verify-after-resume` (else the policy's `after_resume`).
    pub after_resume: Option<crate::policy::AfterResume>,
    /// The `--test-hold` seam (test builds only).
    pub hold: Option<String>,
}

impl Wipe {
    /// Decides every setting of `mediasan wipe` from its flags and the organization file.
    ///
    /// # Errors
    /// A bad organization file or policy, or no folder for journals.
    pub fn new(a: &WipeArgs) -> Result<Wipe> {
        Wipe::build(&a.targets, &a.opts, false)
    }

    /// The settings of `mediasan sanitize`'s overwrites: the same flags, a policy that may
    /// choose per medium, `nist-decommission` when none is given (the organization file's
    /// `policy` is the wipe's).
    ///
    /// # Errors
    /// As [`Wipe::new`].
    pub fn for_sanitize(targets: &[PathBuf], a: &WipeOpts) -> Result<Wipe> {
        Wipe::build(targets, a, true)
    }

    fn build(targets: &[PathBuf], a: &WipeOpts, sanitize: bool) -> Result<Wipe> {
        let config = crate::config::load(a.config.as_deref())?;
        let policy_name = match (&a.policy, sanitize) {
            (Some(p), _) => p.clone(),
            (None, true) => policy::SANITIZE_DEFAULT.into(),
            (None, false) => config
                .policy
                .clone()
                .unwrap_or_else(|| policy::DEFAULT.into()),
        };
        let policy = policy::load(&policy_name)?;
        if !sanitize && policy.media != crate::technique::MediaRules::overwrite_everywhere() {
            return Err(Error::Usage(format!(
                "policy {} chooses the technique per drive (the drive's purge where it has one): run it \
                 with `mediasan sanitize --policy {}`; `wipe` only overwrites",
                policy.name, policy_name
            )));
        }
        let journal_dir = journal_dir(a.journal_dir.as_ref())?;
        let threads = a.threads.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        let io = IoConfig {
            buffer_size: usize::try_from(a.buffer_size)
                .unwrap_or(usize::MAX)
                .min(1 << 30),
            queue_depth: a.queue_depth.map_or(QUEUE_DEPTH, usize::from),
            budget: FillBudget::new(threads),
            retries: a.retries,
            on_error: match a.on_error {
                Some(OnErrorArg::Abort) => OnError::Abort,
                Some(OnErrorArg::Continue) => OnError::Continue,
                None => policy.on_error,
            },
            watchdog: Some(Watchdog {
                floor: a.slow_floor * 1e6,
                window: Duration::from_secs_f64(a.slow_window),
                stop: a.fail_slow,
            }),
            ..IoConfig::default()
        };
        Ok(Wipe {
            queue_depth_given: a.queue_depth.is_some(),
            targets: targets.to_vec(),
            create: a.create,
            policy,
            policy_flag: a.policy.clone(),
            overrides: Overrides {
                verify: a.verify.map(|v| match v {
                    VerifyArg::Full => VerifyMode::Full,
                    VerifyArg::Sample => VerifyMode::Sample,
                    VerifyArg::None => VerifyMode::None,
                }),
                verify_percent: a.verify_percent,
            },
            transport: match a.transport {
                TransportArg::Auto => hidden::Transport::Auto,
                TransportArg::Ata => hidden::Transport::Ata,
            },
            restore_hidden: a.restore_hidden,
            yes: a.yes,
            dry_run: a.dry_run,
            all_or_nothing: a.all_or_nothing,
            resume: a.resume,
            restart: a.restart,
            json: a.json,
            progress_interval: Duration::from_secs_f64(a.progress_interval),
            journal_dir,
            checkpoint: Duration::from_secs_f64(a.checkpoint_interval),
            cert_dir: cert_dir(a.cert_dir.as_ref(), &config),
            cert_dir_given: a.cert_dir.is_some(),
            key: key(a.key.as_ref(), a.create_key, &config),
            records: Records::new(&a.record, &config)?,
            io,
            fail_slow: a.fail_slow,
            after_resume: a.verify_after_resume.map(|v| match v {
                crate::cli::AfterResumeArg::Sample => crate::policy::AfterResume::Sample,
                crate::cli::AfterResumeArg::Full => crate::policy::AfterResume::Full,
            }),
            hold: a.seams.hold().map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn many_targets_share_the_in_flight_io_a_given_depth_is_kept() {
        assert_eq!(shared_depth(4, false, 1, 2), 4, "one target: the default");
        assert_eq!(shared_depth(4, false, 4, 2), 2);
        assert_eq!(shared_depth(4, false, 16, 2), 1);
        assert_eq!(shared_depth(4, false, 24, 2), 1, "never below one");
        assert_eq!(shared_depth(4, false, 8, 32), 4, "never above the default");
        assert_eq!(shared_depth(8, true, 16, 2), 8, "--queue-depth 8 is 8");
    }

    fn wipe(args: &[&str], config: &str) -> Wipe {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("mediasan.toml");
        std::fs::write(&c, config).unwrap();
        let mut argv = vec!["mediasan", "wipe", "--config", c.to_str().unwrap()];
        argv.extend(args);
        argv.push("t.img");
        let cli = crate::cli::Cli::parse_from(argv);
        match cli.command {
            crate::cli::Command::Wipe(a) => Wipe::new(&a).unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_key_is_the_flag_then_the_environment_then_the_file() {
        let file = Config {
            key: Some("/file".into()),
            ..Config::default()
        };
        let none = |_: &str| None;
        let env = |name: &str| match name {
            "MEDIASAN_KEY" => Some("/env".into()),
            "MEDIASAN_CREATE_KEY" => Some("YES".into()),
            _ => None,
        };
        let flag = PathBuf::from("/flag");
        let k = key_from(Some(&flag), false, &file, env);
        assert_eq!(k.path, Some(flag.clone()));
        assert!(k.may_create, "MEDIASAN_CREATE_KEY=YES allows it");
        assert_eq!(key_from(None, false, &file, env).path, Some("/env".into()));
        let k = key_from(None, false, &file, none);
        assert_eq!(k.path, Some("/file".into()));
        assert!(!k.may_create, "nothing allows it");
        let k = key_from(None, false, &Config::default(), none);
        assert_eq!(k, SigningKey::default());
        assert!(key_from(None, true, &Config::default(), none).may_create);
        let file_allows = Config {
            create_key: true,
            ..Config::default()
        };
        assert!(key_from(None, false, &file_allows, none).may_create);
        for no in ["0", "no", "", "false"] {
            let env = |name: &str| (name == "MEDIASAN_CREATE_KEY").then(|| no.into());
            assert!(
                !key_from(None, false, &Config::default(), env).may_create,
                "{no:?}"
            );
        }
    }

    #[test]
    fn flags_win_over_the_organization_file_which_wins_over_defaults() {
        let file = "operator = \"Jane\"\ncert_dir = \"/certs\"\npolicy = \"nist-clear-zero\"\n\
                    destination = \"recycling facility\"\nkey = \"/k\"\n";
        let w = wipe(&[], file);
        let record = |w: &Wipe| {
            w.records
                .resolve(&[crate::records::Key::named(std::path::Path::new("t.img"))])
                .unwrap()
                .remove(0)
        };
        assert_eq!(record(&w).operator.name, "Jane");
        assert_eq!(w.cert_dir, PathBuf::from("/certs"));
        assert_eq!(w.policy.name, "nist-clear-zero");
        assert_eq!(w.key.path, Some(PathBuf::from("/k")));
        assert_eq!(record(&w).destination, "recycling facility");
        let w = wipe(
            &[
                "--operator",
                "Max",
                "--cert-dir",
                "/c2",
                "--policy",
                "nist-clear",
                "--destination",
                "reuse",
            ],
            file,
        );
        assert_eq!(record(&w).operator.name, "Max");
        assert_eq!(w.cert_dir, PathBuf::from("/c2"));
        assert_eq!(w.policy.name, "nist-clear");
        assert_eq!(record(&w).destination, "reuse");
        let w = wipe(&[], "");
        assert_eq!(w.cert_dir, PathBuf::from("."));
        assert_eq!(w.policy.name, policy::DEFAULT);
        assert_eq!(w.checkpoint, Duration::from_secs(5));
        assert_eq!(w.io.on_error, OnError::Continue);
        let w = wipe(&["--on-error", "abort", "--buffer-size", "4G"], "");
        assert_eq!(w.io.on_error, OnError::Abort);
        assert_eq!(w.io.buffer_size, 1 << 30, "buffers are capped at 1 GiB");
    }
}

/// Everything a purge needs, decided.
#[derive(Clone, Debug)]
pub struct Purge {
    pub target: PathBuf,
    /// `--transport`: `None` for auto (from sysfs).
    pub transport: Option<crate::purge::engine::Bus>,
    /// What to send and how to follow it.
    pub request: crate::purge::flow::Request,
    /// `--unlock`: only take mediasan's temporary ATA password off the drive.
    pub unlock: bool,
    /// `--resume` / `--restart` an unfinished purge, and where its journal is kept.
    pub resume: bool,
    pub restart: bool,
    pub journal_dir: PathBuf,
    pub yes: bool,
    pub json: bool,
    /// `--progress-interval`.
    pub progress_interval: Duration,
    pub cert_dir: PathBuf,
    /// `--cert-dir` was given (a finished purge's folder must then be the one it began with).
    pub cert_dir_given: bool,
    pub key: SigningKey,
    /// The drive's record, once it is known.
    pub records: Records,
    /// The `--simulate` seam (test builds only): a simulated drive instead of the device.
    pub simulate: Option<String>,
}

impl Purge {
    /// Decides every setting of `mediasan purge` from its flags and the organization file.
    ///
    /// # Errors
    /// A bad organization file, or a method that does not exist.
    pub fn new(a: &crate::cli::PurgeArgs) -> Result<Purge> {
        use crate::purge::method::Method;
        let config = crate::config::load(a.config.as_deref())?;
        // A misspelt method is the user's mistake, not the drive's.
        let method = match a.method.as_str() {
            "nist-purge" => None,
            name => Some(Method::from_name(name).ok_or_else(|| {
                Error::Usage(format!(
                    "--method {name}: no such method; use nist-purge or one of {}",
                    Method::ALL.map(Method::name).join(", ")
                ))
            })?),
        };
        Ok(Purge {
            target: a.target.clone(),
            transport: transport(a.transport),
            request: crate::purge::flow::Request {
                method,
                pattern: a.pattern,
                passes: a.passes,
                ause: a.ause,
                exit_failure_mode: a.exit_failure_mode,
                allow_shared: a.allow_shared,
                verify_percent: a.verify_percent,
                canaries: !a.no_canaries,
                poll: Duration::from_secs_f64(a.poll_interval),
                patience: a.seams.patience().map(Duration::from_secs_f64),
                dry_run: a.dry_run,
                hold: a.seams.hold().map(str::to_string),
                rma_capture: a
                    .rma_capture
                    .then(|| cert_dir(a.cert_dir.as_ref(), &config)),
                allow_bridged_erase: a.allow_bridged_security_erase,
                no_deallocate: no_deallocate(a.no_deallocate),
                psid: psid(a.psid.as_deref())?,
                sid: secret_file("--sid-file", a.sid_file.as_deref())?,
                erase_master: secret_file("--erase-master-file", a.erase_master_file.as_deref())?,
                erase_master_msid: a.erase_master_msid,
            },
            unlock: a.unlock,
            resume: a.resume,
            restart: a.restart,
            journal_dir: journal_dir(a.journal_dir.as_ref())?,
            yes: a.yes,
            json: a.json,
            progress_interval: Duration::from_secs_f64(a.progress_interval),
            cert_dir: cert_dir(a.cert_dir.as_ref(), &config),
            cert_dir_given: a.cert_dir.is_some(),
            key: key(a.key.as_ref(), a.create_key, &config),
            records: Records::new(&a.record, &config)?,
            simulate: a.seams.simulate().map(str::to_string),
        })
    }
}

/// `--psid CODE`, or `--psid -`: one line of standard input. The copies read are zeroed.
fn psid(flag: Option<&str>) -> Result<Option<crate::device::tcg::Secret>> {
    let Some(code) = flag else { return Ok(None) };
    let text = if code == "-" {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Error::Usage(format!("--psid -: cannot read standard input: {e}")))?;
        line
    } else {
        code.to_string()
    };
    let secret = crate::device::tcg::Secret::new(text.trim());
    forget(text.into_bytes());
    secret
        .map(Some)
        .map_err(|why| Error::Usage(format!("--psid: {why}")))
}

/// `--sid-file FILE` (or `--erase-master-file FILE`, as `flag` names it): the file's text
/// without its line end. The copy read is zeroed.
fn secret_file(
    flag: &str,
    path: Option<&std::path::Path>,
) -> Result<Option<crate::device::tcg::Secret>> {
    let Some(path) = path else { return Ok(None) };
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Usage(format!("{flag} {}: cannot read it: {e}", path.display())))?;
    let secret = std::str::from_utf8(&bytes)
        .map_err(|_| "it is not UTF-8 text".to_string())
        .and_then(crate::device::tcg::Secret::new);
    forget(bytes);
    secret
        .map(Some)
        .map_err(|why| Error::Usage(format!("{flag} {}: {why}", path.display())))
}

/// Zeroes a credential's transient copy before it is freed.
fn forget(mut bytes: Vec<u8>) {
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

/// `--journal-dir`, else the default folder.
fn journal_dir(flag: Option<&PathBuf>) -> Result<PathBuf> {
    flag.cloned()
        .or_else(crate::journal::default_dir)
        .ok_or_else(|| {
            Error::Usage("cannot find a folder for journals (no HOME); give --journal-dir".into())
        })
}

/// Everything `mediasan sanitize` needs: the overwrite's settings (with the per-medium policy)
/// and what a device command is sent with.
#[derive(Clone, Debug)]
pub struct Sanitize {
    pub wipe: Wipe,
    /// The device command's request, its method filled in per drive.
    pub request: crate::purge::flow::Request,
    /// The `--simulate NAME=SPEC` seam (test builds only): NAME is a simulated NVMe drive.
    pub simulate: Option<(PathBuf, String)>,
}

impl Sanitize {
    /// Decides every setting of `mediasan sanitize`.
    ///
    /// # Errors
    /// As [`Wipe::for_sanitize`]; a `--simulate` that is not NAME=SPEC.
    pub fn new(a: &crate::cli::SanitizeArgs) -> Result<Sanitize> {
        Sanitize::build(&a.wipe.targets, &a.wipe.opts, &a.device)
    }

    /// [`Sanitize::new`] from its parts (`bench` names its targets as drives arrive).
    ///
    /// # Errors
    /// As [`Sanitize::new`].
    pub fn build(targets: &[PathBuf], o: &WipeOpts, d: &DeviceOpts) -> Result<Sanitize> {
        if d.psid.is_some() && targets.len() > 1 {
            return Err(Error::Usage(
                "--psid is one drive's code (from its label), and every other drive would count it as a \
                 wrong try toward its lockout: give one target with it"
                    .into(),
            ));
        }
        let wipe = Wipe::for_sanitize(targets, o)?;
        let simulate = match o.seams.simulate() {
            None => None,
            Some(s) => {
                let (name, spec) = s.split_once('=').ok_or_else(|| {
                    Error::Usage(format!(
                        "--simulate {s}: sanitize takes NAME=SPEC (the target NAME is simulated)"
                    ))
                })?;
                Some((PathBuf::from(name), spec.to_string()))
            }
        };
        Ok(Sanitize {
            request: crate::purge::flow::Request {
                method: None,
                pattern: None,
                passes: 1,
                ause: d.ause,
                exit_failure_mode: false,
                allow_shared: d.allow_shared,
                verify_percent: d.purge_verify_percent,
                canaries: !d.no_canaries,
                poll: Duration::from_secs_f64(d.poll_interval),
                patience: o.seams.patience().map(Duration::from_secs_f64),
                dry_run: o.dry_run,
                hold: o.seams.hold().map(str::to_string),
                rma_capture: d.rma_capture.then(|| wipe.cert_dir.clone()),
                allow_bridged_erase: d.allow_bridged_security_erase,
                no_deallocate: no_deallocate(d.no_deallocate),
                psid: psid(d.psid.as_deref())?,
                sid: secret_file("--sid-file", d.sid_file.as_deref())?,
                erase_master: secret_file("--erase-master-file", d.erase_master_file.as_deref())?,
                erase_master_msid: d.erase_master_msid,
            },
            simulate,
            wipe,
        })
    }
}

/// Everything `mediasan bench` decides once: which drives it may take, and how each is
/// sanitized (as `sanitize` would, the target named when the drive arrives).
#[derive(Clone, Debug)]
pub struct Bench {
    pub selection: crate::bench::select::Selection,
    pub existing: bool,
    pub settle: Duration,
    /// Each drive's settings, without a target yet; `--yes` always (the bench was confirmed).
    pub sanitize: Sanitize,
    /// Where slots and their lights are looked up.
    pub sysfs: PathBuf,
    /// NDJSON events on stdout: `--json`, or no terminal on stderr.
    pub events: bool,
    /// The confirmation at the start was given on the command line.
    pub yes: bool,
    /// Listen to the kernel's uevents (the `--test-no-uevents` seam turns it off).
    pub uevents: bool,
    /// Go on taking drives after SIGHUP (`--unattended`).
    pub unattended: bool,
}

impl Bench {
    /// Decides every setting of `mediasan bench`.
    ///
    /// # Errors
    /// [`Error::Usage`]: no `--include`, a bad pattern, a wipe option that means nothing on
    /// a bench, or what [`Sanitize::build`] refuses.
    pub fn new(a: &crate::cli::BenchArgs) -> Result<Bench> {
        use std::io::IsTerminal;
        let selection = crate::bench::select::Selection::new(&a.include, &a.exclude)?;
        let o = &a.opts;
        let pointless = [
            (
                o.create.is_some(),
                "--create (the bench takes drives as they are plugged in)",
            ),
            (
                o.dry_run,
                "--dry-run (see what is plugged in with `mediasan list`)",
            ),
            (
                o.resume,
                "--resume (a drive with an unfinished wipe or purge is continued when plugged in; \
                 --restart starts it over)",
            ),
            (
                o.all_or_nothing,
                "--all-or-nothing (each drive is taken or refused on its own as it is plugged in)",
            ),
            (
                !o.record.asset_tag.is_empty(),
                "--asset-tag (an asset tag names one drive, and a bench takes many: give each drive's \
                 in a --manifest keyed by serial, wwn or target, a bay's /dev/disk/by-path name)",
            ),
            (
                a.device.psid.is_some(),
                "--psid (a PSID is one drive's code: every other drive would count it as a wrong try \
                 toward its lockout; revert a drive with its own PSID by `mediasan purge`)",
            ),
        ];
        if let Some((_, what)) = pointless.iter().find(|(given, _)| *given) {
            return Err(Error::Usage(format!("bench takes no {what}")));
        }
        let mut sanitize = Sanitize::build(&[], o, &a.device)?;
        sanitize.wipe.yes = true;
        // Drives come unannounced: one without a manifest row is taken with the session's
        // record, unless the organization file requires what only a row gives.
        sanitize.wipe.records.allow_missing_rows();
        Ok(Bench {
            selection,
            existing: a.existing,
            settle: Duration::from_secs_f64(a.settle),
            sanitize,
            sysfs: o
                .seams
                .sysfs()
                .map_or_else(|| PathBuf::from("/sys"), std::path::Path::to_path_buf),
            events: o.json || !std::io::stderr().is_terminal(),
            yes: o.yes,
            uevents: !o.seams.no_uevents(),
            unattended: a.unattended,
        })
    }
}

/// `--transport`: the bus to drive the device with, `None` for what it reports.
pub fn transport(a: crate::cli::BusArg) -> Option<crate::purge::engine::Bus> {
    use crate::cli::BusArg;
    use crate::purge::engine::Bus;
    match a {
        BusArg::Auto => None,
        BusArg::Nvme => Some(Bus::Nvme),
        BusArg::Ata => Some(Bus::Ata),
        BusArg::Scsi => Some(Bus::Scsi),
    }
}
