//! Command-line definitions (clap). No I/O and no logic: `cmd` turns these into actions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::units::parse_size;

/// What `mediasan --help` and the man page say first.
const LONG_ABOUT: &str =
    "Sanitize storage media following NIST SP 800-88 Rev. 2 and IEEE 2883, and prove it \
with a signed certificate that anyone can check offline with OpenSSH.

`wipe` overwrites (NIST Clear) image files and block devices as a policy says, verifies a sample \
or all of the last pass, and writes one certificate per target: JSON signed with SSHSIG \
(Ed25519). `purge` runs the drive's own sanitize command (NVMe, ATA, SCSI), follows it to the \
end, checks sampled locations and certifies it. Nothing is written before the target is \
confirmed (or --yes), and never to a device that is mounted, held, swap, read-only or open \
elsewhere.";

/// The rest of the man page: examples, exit status, files, environment.
const AFTER_LONG_HELP: &str = "EXAMPLES
  mediasan list
  mediasan wipe /dev/sdb --dry-run
  mediasan wipe /dev/sdb /dev/sdc --asset-tag A-1 --asset-tag A-2
  mediasan wipe /dev/sdb --resume
  mediasan purge /dev/nvme0n1 --dry-run
  mediasan bench --include 'sd*' --exclude sda
  mediasan cert verify X.json --allowed-signers FILE

EXIT STATUS
  0    every target sanitized and verified (PASS)
  1    a FAIL or INCOMPLETE result (its certificate is written)
  2    usage or input error: nothing was written
  3    refused for safety (in use, changed, not confirmed)
  130  interrupted: journal kept for --resume

FILES
  ~/.config/mediasan/mediasan.toml   the organization file
  ~/.config/mediasan/signing_key     the default signing key
  ~/.local/state/mediasan/journal/   unfinished wipes and purges

ENVIRONMENT
  XDG_CONFIG_HOME, XDG_STATE_HOME    move those folders
  NO_COLOR, CLICOLOR, CLICOLOR_FORCE colour of the summary
  TERM=dumb                          no bars: plain progress lines
  MEDIASAN_NO_VAES=1                 the portable AES-CTR path (benchmarks)

SEE ALSO
  ssh-keygen(1), nvme-sanitize(1), hdparm(8), sg_sanitize(8);
  /usr/share/doc/mediasan/README.md and docs/ (guide, techniques,
  certificates, audit, bench, fleets, events).";

/// Sanitize storage media following NIST SP 800-88 Rev. 2, and prove it with a signed
/// certificate that anyone can check offline with OpenSSH.
#[derive(Debug, Parser)]
#[command(
    name = "mediasan",
    version,
    about,
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Also append everything said on stderr to FILE, each line with its UTC time, and a
    /// progress line per target every --progress-interval (for cron jobs, serial consoles and
    /// the audit trail of a session).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Overwrite targets (NIST Clear) as a policy says, verify, and write signed certificates.
    Wipe(WipeArgs),
    /// Sanitize any targets with the technique the policy names for each medium (the drive's
    /// own purge, an overwrite, both, or FAIL with the recommendation Destroy), verify, and
    /// write a signed certificate per target. Takes every wipe option for its overwrites;
    /// --policy defaults to nist-decommission.
    #[command(mut_arg("policy", |a| a.help(per_medium_policy_help())))]
    Sanitize(SanitizeArgs),
    /// Wipe drives as they are plugged in, each certified the moment it finishes: a bench of
    /// bays, drives pulled and pushed all day. Only drives that match --include are taken.
    #[command(mut_arg("policy", |a| a.help(per_medium_policy_help())))]
    Bench(BenchArgs),
    /// Purge with the drive's own sanitize command (NVMe, ATA, SCSI): check it can, run it,
    /// follow its progress, verify sampled locations, and write a signed certificate.
    Purge(PurgeArgs),
    /// The state of a drive's sanitize (one that was started and left running).
    PurgeStatus(PurgeStatusArgs),
    /// Stop the software RAID (md), LVM / device-mapper and bcache devices stacked on the named
    /// disks, top first, so they can be erased; only stacks whose every disk is named, never
    /// one that is mounted or open. Writes nothing to any disk.
    StopHolders(StopHoldersArgs),
    /// Re-read a wiped target and check it against its certificate: same media, same samples
    /// (redrawn from the recorded seed), same bytes, same BLAKE3.
    Verify(VerifyArgs),
    /// Check or inspect certificates.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Check every certificate under some folders (and tar or zip bundles) at once, and reconcile them
    /// with the asset register: which assets have a trusted PASS, which may still hold data,
    /// which records match no asset, which files do not count.
    Audit(AuditArgs),
    /// Record a medium's physical destruction (NIST Destroy) as a signed certificate, so the
    /// register covers every medium: cleared, purged or destroyed.
    Destroyed(DestroyedArgs),
    /// Make an Ed25519 signing key (OpenSSH format): FILE and FILE.pub.
    Keygen(KeygenArgs),
    /// List the block devices that could be wiped, with identity and whether they are in use.
    List(ListArgs),
    /// List the built-in policies.
    Policies(PoliciesArgs),
    /// Record a drive's answers to the read-only commands mediasan decides from (identify,
    /// capabilities, logs, health, hidden areas) into a file to send in: through a door that
    /// can only send read-only commands, serial numbers blanked. Writes nothing to the drive.
    Capture(CaptureArgs),
    /// Print the man page or shell completions, generated from these definitions.
    #[command(subcommand)]
    Generate(GenerateCommand),
}

/// `--policy`'s help where the policy chooses the technique per medium (`sanitize`, `bench`):
/// its default, from the code that applies it.
fn per_medium_policy_help() -> String {
    format!(
        "A built-in policy name (see `mediasan policies`) or a policy TOML file [default: {}; the \
         organization file's policy is wipe's]",
        crate::policy::SANITIZE_DEFAULT
    )
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// The man page (roff) on stdout: `mediasan generate man > mediasan.1`; with --dir, every
    /// page (mediasan.1 and one per subcommand, mediasan-wipe.1 ...) written into DIR.
    Man {
        /// Write mediasan.1 and a page per subcommand into this folder instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Completions for SHELL on stdout: `mediasan generate completions bash > /etc/bash_completion.d/mediasan`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `--on-error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnErrorArg {
    Continue,
    Abort,
}

/// `--transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    Auto,
    Ata,
}

/// What a resumed wipe's verification reads, overriding the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AfterResumeArg {
    /// At least --verify-percent of the part written before the interruption.
    Sample,
    /// The whole target read back.
    Full,
}

/// How to verify, overriding the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyArg {
    /// Read every byte back.
    Full,
    /// Read pseudorandom samples over the whole target (see --verify-percent).
    Sample,
    /// Do not verify (the result is then INCOMPLETE, never PASS).
    None,
}

#[derive(Debug, Args)]
pub struct WipeArgs {
    /// Block devices or image files to wipe. Several are wiped at the same time.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<PathBuf>,

    #[command(flatten)]
    pub opts: WipeOpts,
}

/// Every option of an overwrite (`wipe`, `sanitize`'s overwrites, `bench`).
#[derive(Debug, Args, Clone)]
pub struct WipeOpts {
    /// A built-in policy name (see `mediasan policies`) or a policy TOML file [default: the
    /// config's policy, else nist-clear].
    #[arg(long, value_name = "NAME|FILE", help_heading = "Policy")]
    pub policy: Option<String>,

    /// Make TARGET an image file of SIZE first if it does not exist (512M, 4GiB, bytes).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Device")]
    pub create: Option<u64>,

    /// How to talk to the drive: auto (from sysfs) or ata (force ATA pass-through, e.g. behind
    /// a USB-SATA bridge that hides it).
    #[arg(long, value_enum, default_value = "auto", help_heading = "Device")]
    pub transport: TransportArg,

    /// Restore hidden areas before overwriting (ATA drives): an HPA/AMA limit removed with SET
    /// MAX ADDRESS EXT (non-volatile, as `hdparm -N p`), a DCO with DEVICE CONFIGURATION RESTORE;
    /// both readings go into the certificate. Refused, with nothing written, when the restore
    /// does not take. Without it a drive with hidden sectors is overwritten and FAILs.
    #[arg(long, help_heading = "Device")]
    pub restore_hidden: bool,

    /// Do not ask for confirmation. Required when there is no terminal.
    #[arg(long, short = 'y', help_heading = "Safety")]
    pub yes: bool,

    /// Print what would be done and write nothing.
    #[arg(long, help_heading = "Safety")]
    pub dry_run: bool,

    /// With several targets, one refused for safety (read-only, in use, frozen) refuses the
    /// whole run and nothing is written. By default each target is judged on its own: the
    /// refused ones get a signed record saying why, the others run.
    #[arg(long, help_heading = "Safety")]
    pub all_or_nothing: bool,

    /// Continue an interrupted wipe of TARGET from its last checkpoint, with the same policy,
    /// passes and seeds (from its journal).
    #[arg(long, conflicts_with = "restart", help_heading = "Interruptions")]
    pub resume: bool,

    /// Discard TARGET's unfinished wipe (its journal) and start again.
    #[arg(long, help_heading = "Interruptions")]
    pub restart: bool,

    /// Folder for the journals of wipes in progress [default: ~/.local/state/mediasan/journal].
    #[arg(long, value_name = "DIR", help_heading = "Interruptions")]
    pub journal_dir: Option<PathBuf>,

    /// Seconds between checkpoints (a flush, then the journal records the progress).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 5.0,
        value_parser = crate::units::parse_checkpoint_interval,
        help_heading = "Interruptions"
    )]
    pub checkpoint_interval: f64,

    /// Verification method, overriding the policy's.
    #[arg(long, value_enum, help_heading = "Verification")]
    pub verify: Option<VerifyArg>,

    /// Minimum share of the target read back by sampled verification, percent (1-100).
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(1..=100), help_heading = "Verification")]
    pub verify_percent: Option<u8>,

    /// What the verification of a resumed wipe reads of the part written before the
    /// interruption: sample (at least --verify-percent of it) or full (the whole target read
    /// back). The first and last MiB are read in full either way [default: the policy's
    /// after_resume, else sample].
    #[arg(long, value_enum, value_name = "HOW", help_heading = "Verification")]
    pub verify_after_resume: Option<AfterResumeArg>,

    /// Folder for certificates, created if missing [default: the config's cert_dir, else the
    /// current folder].
    #[arg(long, value_name = "DIR", help_heading = "Certificate")]
    pub cert_dir: Option<PathBuf>,

    /// Ed25519 OpenSSH private key to sign with, or its public half (KEY.pub) for a key held by
    /// ssh-agent (SSH_AUTH_SOCK); a KEY-cert.pub beside it is carried in every signature
    /// [default: $MEDIASAN_KEY, else the config's key, else ~/.config/mediasan/signing_key].
    #[arg(long, value_name = "FILE", help_heading = "Certificate")]
    pub key: Option<PathBuf>,

    /// Without a terminal, create the default signing key on first use instead of refusing
    /// (also MEDIASAN_CREATE_KEY=1 or the config's create_key = true).
    #[arg(long, help_heading = "Certificate")]
    pub create_key: bool,

    /// Who did it, what the media is, where it goes: fields of the certificate.
    #[command(flatten)]
    pub record: RecordArgs,

    /// Organization file [default: ~/.config/mediasan/mediasan.toml if it exists]: organization,
    /// location, contact, operator, title, cert_dir, key, policy, destination.
    #[arg(long, value_name = "FILE", help_heading = "Certificate")]
    pub config: Option<PathBuf>,

    /// Bytes per write (rounded to the block size and pattern period).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1MiB", help_heading = "Performance")]
    pub buffer_size: u64,

    /// After an I/O error that retries did not cure: continue past the failing blocks (the
    /// default) or abort the pass [default: the policy's on_error].
    #[arg(long, value_enum, value_name = "WHAT", help_heading = "Failing drives")]
    pub on_error: Option<OnErrorArg>,

    /// Times a failed write or read is retried before it is narrowed to the failing blocks.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=100), help_heading = "Failing drives")]
    pub retries: u32,

    /// Throughput floor in MB/s: a pass slower than this over --slow-window is reported.
    #[arg(
        long,
        value_name = "MB/S",
        default_value_t = 5.0,
        value_parser = crate::units::parse_rate_mbps,
        help_heading = "Failing drives"
    )]
    pub slow_floor: f64,

    /// Seconds the rate must stay under --slow-floor before the watchdog reports it.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 600.0,
        value_parser = crate::units::parse_slow_window,
        help_heading = "Failing drives"
    )]
    pub slow_window: f64,

    /// Stop a pass that the watchdog reports (the result is FAIL), so one dying drive does not
    /// hold up a bench.
    #[arg(long, help_heading = "Failing drives")]
    pub fail_slow: bool,

    /// Writes (and verification reads) in flight per target [default: 4; with several
    /// targets, as many as share 4 per CPU among them, at least 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256), help_heading = "Performance")]
    pub queue_depth: Option<u16>,

    /// Threads generating pattern bytes, shared by all targets [default: CPU count].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024), help_heading = "Performance")]
    pub threads: Option<u16>,

    /// Without a terminal that redraws (a pipe, a file, cron, TERM=dumb), and in --log, a
    /// progress line per target every SECONDS.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = crate::units::parse_progress_interval, help_heading = "Output")]
    pub progress_interval: f64,

    /// Newline-delimited JSON events on stdout (see docs/events.md); human text stays on stderr.
    #[arg(long, help_heading = "Output")]
    pub json: bool,

    #[command(flatten)]
    pub seams: SeamArgs,
}

#[derive(Debug, Args)]
pub struct SanitizeArgs {
    #[command(flatten)]
    pub wipe: WipeArgs,

    #[command(flatten)]
    pub device: DeviceOpts,
}

/// The bench refuses the wipe options that mean nothing on a bench (see `settings::Bench`):
/// its help does not list them.
#[derive(Debug, Args)]
#[command(
    mut_arg("create", |a| a.hide(true)),
    mut_arg("dry_run", |a| a.hide(true)),
    mut_arg("resume", |a| a.hide(true)),
    mut_arg("all_or_nothing", |a| a.hide(true)),
    mut_arg("asset_tag", |a| a.hide(true))
)]
pub struct BenchArgs {
    /// The drives this bench may wipe, as they are plugged in: a kernel name glob ('sd*',
    /// 'nvme*n1'), a device node glob ('/dev/sd*'), a bay's link under /dev/disk
    /// ('/dev/disk/by-path/*-sas-phy*'), or a loop device's backing file ('/srv/img/*.img').
    /// Required; may be repeated.
    #[arg(long, value_name = "PATTERN", help_heading = "Bench")]
    pub include: Vec<String>,

    /// Drives never to touch even if --include names them (the same kinds of patterns).
    #[arg(long, value_name = "PATTERN", help_heading = "Bench")]
    pub exclude: Vec<String>,

    /// Also take the matching drives already plugged in when the bench starts (by default
    /// only drives plugged in later are taken).
    #[arg(long, help_heading = "Bench")]
    pub existing: bool,

    /// Seconds a drive must stay plugged in and unchanged before its work starts.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = crate::units::parse_poll_interval, help_heading = "Bench")]
    pub settle: f64,

    /// Keep taking drives after the terminal goes away (SIGHUP): for a bench run as a service
    /// (systemd) or under nohup. Without it, a bench whose SSH or tmux session ended finishes
    /// and certifies the drives it is working on, takes no new one, and ends.
    #[arg(long, help_heading = "Bench")]
    pub unattended: bool,

    #[command(flatten)]
    pub opts: WipeOpts,

    #[command(flatten)]
    pub device: DeviceOpts,
}

/// The options of a drive's own sanitize command chosen per drive (`sanitize`, `bench`).
#[derive(Debug, Args, Clone)]
pub struct DeviceOpts {
    /// Device commands may erase what other hosts use, or namespaces this host cannot see (a
    /// dual-ported or multi-controller NVMe subsystem): go ahead anyway.
    #[arg(long, help_heading = "Device commands")]
    pub allow_shared: bool,

    /// Allow an unrestricted exit from a failed sanitize (AUSE).
    #[arg(long, help_heading = "Device commands")]
    pub ause: bool,

    /// Seconds between progress polls of a drive's own sanitize.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = crate::units::parse_poll_interval, help_heading = "Device commands")]
    pub poll_interval: f64,

    /// Before a device command, save the logs a vendor's failure analysis needs beside the
    /// certificate, hashed in it (see `purge --rma-capture`).
    #[arg(long, help_heading = "Device commands")]
    pub rma_capture: bool,

    /// Share of the device the canaries check after a device command, percent (1-100).
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(1..=100), default_value_t = 1, help_heading = "Device commands")]
    pub purge_verify_percent: u8,

    /// Do not write canaries before a device command: compare what the samples held before
    /// instead (as `purge --no-canaries`; what a host-managed zoned drive whose zone report
    /// cannot be read needs).
    #[arg(long, help_heading = "Device commands")]
    pub no_canaries: bool,

    /// The PSID printed on a self-encrypting drive's label, for a policy naming
    /// tcg-psid-revert (`-`: read it from standard input); one target only, never on a bench
    /// (other drives would count it as a wrong try). Never logged, never in a certificate.
    #[arg(long, value_name = "CODE", help_heading = "Device commands")]
    pub psid: Option<String>,

    /// A file holding the owner's SID password, for a policy naming tcg-revert (or nist-purge
    /// on a self-encrypting drive). Never logged, never in a certificate.
    #[arg(long, value_name = "FILE", help_heading = "Device commands")]
    pub sid_file: Option<PathBuf>,

    /// A file holding a TCG Enterprise drive's EraseMaster password, for a policy naming
    /// tcg-erase (or nist-purge on an Enterprise drive). Never logged, never in a certificate.
    #[arg(long, value_name = "FILE", help_heading = "Device commands")]
    pub erase_master_file: Option<PathBuf>,

    /// For tcg-erase on drives whose EraseMaster password was never set: authenticate with the
    /// MSID each drive reports (a drive whose owner set it counts this as a wrong try).
    #[arg(
        long,
        conflicts_with = "erase_master_file",
        help_heading = "Device commands"
    )]
    pub erase_master_msid: bool,

    /// Allow an ATA security erase that a policy names through a USB or unknown bridge, which
    /// can leave the drive locked (it is never chosen there otherwise).
    #[arg(long, help_heading = "Device commands")]
    pub allow_bridged_security_erase: bool,

    /// NVMe Sanitize: set No-Deallocate After Sanitize for an overwrite only (auto), for every
    /// sanitize method (on), or never (off); never where the drive inhibits it.
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        help_heading = "Device commands"
    )]
    pub no_deallocate: NoDeallocateArg,
}

/// When an NVMe Sanitize is sent with No-Deallocate After Sanitize.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NoDeallocateArg {
    /// For an overwrite only, whose read-back then shows the pattern itself.
    Auto,
    /// For every sanitize method (a crypto or block erase may then leave reads failing, or
    /// take as long as an overwrite).
    On,
    /// Never.
    Off,
}

/// Test seams: hidden flags that exist only in debug builds (or with the `test-seams` cargo
/// feature), never in a release binary, so nothing but a test build can reach them.
#[cfg(any(debug_assertions, feature = "test-seams"))]
#[derive(Debug, Args, Default, Clone)]
pub struct SeamArgs {
    /// Test seam: stop at the named point of the flow (`confirmed`, `pass-start:N`,
    /// `checkpoint:N` (after a journal save), `pass-end:N`, `verify-start`, `verify-end`,
    /// `settled`, `certified`, `purge-*`; on a bench `bench-seen`, `bench-settled`,
    /// `bench-probed`), print a `test_hold` JSON line on stdout and wait for a signal (SIGINT,
    /// SIGTERM or SIGHUP, or SIGUSR1 which means nothing else), then go on.
    #[arg(long, hide = true, value_name = "POINT")]
    pub test_hold: Option<String>,
    /// Test seam: a simulated drive instead of TARGET's hardware, `nvme:SIZE:FEATURES` with
    /// FEATURES from crypto, block, overwrite, format, liar, failed, slow (comma-separated).
    #[arg(long, hide = true, value_name = "SPEC")]
    pub simulate: Option<String>,
    /// Test seam: seconds an unreadable status or a stuck progress is waited out.
    #[arg(long, hide = true, value_name = "SECONDS")]
    pub test_patience: Option<f64>,
    /// Test seam: look for enclosure slots and their lights under DIR instead of /sys.
    #[arg(long, hide = true, value_name = "DIR")]
    pub test_sysfs: Option<PathBuf>,
    /// Test seam: the bench does not listen to the kernel's uevents (as in a container where
    /// it cannot), so only its periodic rescan sees drives come and go.
    #[arg(long, hide = true)]
    pub test_no_uevents: bool,
}

/// Test seams: none in a release build.
#[cfg(not(any(debug_assertions, feature = "test-seams")))]
#[derive(Debug, Args, Default, Clone)]
pub struct SeamArgs {}

impl SeamArgs {
    /// The `--test-hold` point, if this build has the seam and it was given.
    pub fn hold(&self) -> Option<&str> {
        #[cfg(any(debug_assertions, feature = "test-seams"))]
        return self.test_hold.as_deref();
        #[cfg(not(any(debug_assertions, feature = "test-seams")))]
        None
    }

    /// The `--test-patience` seconds, if this build has the seam and it was given.
    pub fn patience(&self) -> Option<f64> {
        #[cfg(any(debug_assertions, feature = "test-seams"))]
        return self.test_patience;
        #[cfg(not(any(debug_assertions, feature = "test-seams")))]
        None
    }

    /// The `--simulate` spec, if this build has the seam and it was given.
    pub fn simulate(&self) -> Option<&str> {
        #[cfg(any(debug_assertions, feature = "test-seams"))]
        return self.simulate.as_deref();
        #[cfg(not(any(debug_assertions, feature = "test-seams")))]
        None
    }

    /// True when this build has the seam and `--test-no-uevents` was given.
    pub fn no_uevents(&self) -> bool {
        #[cfg(any(debug_assertions, feature = "test-seams"))]
        return self.test_no_uevents;
        #[cfg(not(any(debug_assertions, feature = "test-seams")))]
        false
    }

    /// The `--test-sysfs` folder, if this build has the seam and it was given.
    pub fn sysfs(&self) -> Option<&std::path::Path> {
        #[cfg(any(debug_assertions, feature = "test-seams"))]
        return self.test_sysfs.as_deref();
        #[cfg(not(any(debug_assertions, feature = "test-seams")))]
        None
    }
}

/// Whether the data was backed up before sanitization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackedUp {
    Yes,
    No,
    Unknown,
}

/// The NIST SP 800-88 (Rev. 2 App. C, Rev. 1 App. G) record fields a person enters. Empty ones
/// are written empty, never left out.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Certificate record")]
pub struct RecordArgs {
    /// Name of the person performing the sanitization [default: config `operator`].
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,
    /// Their title [default: config `title`].
    #[arg(long, value_name = "TITLE")]
    pub title: Option<String>,
    /// Their organization [default: config `organization`].
    #[arg(long, value_name = "ORG")]
    pub organization: Option<String>,
    /// Where the sanitization took place [default: config `location`].
    #[arg(long, value_name = "PLACE")]
    pub location: Option<String>,
    /// Phone or other contact [default: config `contact`].
    #[arg(long, value_name = "CONTACT")]
    pub contact: Option<String>,
    /// Asset (property) number of the medium: one per target, in the order of the targets
    /// (repeat the flag), or use --manifest.
    #[arg(
        long,
        value_name = "TAG",
        help_heading = "Per-medium record (once for all targets, or once per target in order)"
    )]
    pub asset_tag: Vec<String>,
    /// Where the media came from (user, host, system).
    #[arg(
        long,
        value_name = "TEXT",
        help_heading = "Per-medium record (once for all targets, or once per target in order)"
    )]
    pub media_source: Vec<String>,
    /// Security classification of the data it held.
    #[arg(
        long,
        value_name = "TEXT",
        help_heading = "Per-medium record (once for all targets, or once per target in order)"
    )]
    pub classification: Vec<String>,
    /// Was the data backed up first?
    #[arg(
        long,
        value_enum,
        value_name = "ANSWER",
        help_heading = "Per-medium record (once for all targets, or once per target in order)"
    )]
    pub data_backed_up: Vec<BackedUp>,
    /// Where the backup is.
    #[arg(
        long,
        value_name = "TEXT",
        help_heading = "Per-medium record (once for all targets, or once per target in order)"
    )]
    pub backup_location: Vec<String>,
    /// Classification after sanitization.
    #[arg(
        long,
        value_name = "TEXT",
        help_heading = "Per-medium record (once for all targets, or once per target in order)"
    )]
    pub post_classification: Vec<String>,
    /// Where the media goes: internal reuse, external reuse, recycling facility, manufacturer,
    /// other (and details) [default: config `destination`].
    #[arg(
        long,
        value_name = "TEXT",
        help_heading = "Per-medium record (once for all targets, or once per target in order)"
    )]
    pub destination: Vec<String>,
    /// A CSV file of per-medium records: a `target` and/or `serial` column saying which drive
    /// each row is for, then any of asset_tag, media_source, classification, data_backed_up,
    /// backup_location, post_classification, destination, note. Every target must have a row.
    #[arg(
        long,
        value_name = "FILE.csv",
        help_heading = "Per-medium record (once for all targets, or once per target in order)"
    )]
    pub manifest: Option<PathBuf>,
    /// A note for every target's certificate (repeatable; per-target notes: the manifest's
    /// `note` column).
    #[arg(long, value_name = "TEXT")]
    pub note: Vec<String>,
    /// Name of the person who will validate the sanitization (the validation block; its
    /// signature and date stay empty for that person).
    #[arg(long, value_name = "NAME")]
    pub validator: Option<String>,
    /// The validator's title.
    #[arg(long, value_name = "TITLE")]
    pub validator_title: Option<String>,
    /// The validator's organization.
    #[arg(long, value_name = "ORG")]
    pub validator_organization: Option<String>,
    /// The validator's location.
    #[arg(long, value_name = "PLACE")]
    pub validator_location: Option<String>,
    /// The validator's phone or other contact.
    #[arg(long, value_name = "CONTACT")]
    pub validator_contact: Option<String>,
    /// What the engine running mediasan calls this machine, in every certificate (repeatable):
    /// `ironic_node=UUID`, `maas_system_id=ID`, `inventory=NAME` [default: config `[node]`;
    /// a flag replaces that key].
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::config::node_pair)]
    pub node: Vec<(String, String)>,
}

/// `--method`'s values: `nist-purge` and every method, so help, completions and a misspelt
/// name's error (with clap's "did you mean") all come from `Method::ALL`.
fn purge_methods() -> clap::builder::PossibleValuesParser {
    let names =
        std::iter::once("nist-purge").chain(crate::purge::method::Method::ALL.map(|m| m.name()));
    clap::builder::PossibleValuesParser::new(names)
}

/// A paper size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PaperArg {
    A4,
    Letter,
}

/// How to talk to the drive for purge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BusArg {
    /// From sysfs: nvme, ata (SATA, USB) or scsi (SAS).
    Auto,
    Nvme,
    Ata,
    Scsi,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The block device (a whole NVMe namespace, SATA or SAS disk).
    #[arg(value_name = "DEVICE")]
    pub target: PathBuf,

    /// nist-purge (the strongest Purge the drive supports) or one method (`mediasan policies`
    /// lists them with their technique and grade).
    #[arg(long, value_name = "METHOD", default_value = "nist-purge", value_parser = purge_methods())]
    pub method: String,

    /// How to talk to the drive (USB-SATA bridges may need ata).
    #[arg(long, value_enum, default_value = "auto")]
    pub transport: BusArg,

    /// Overwrite methods: the 32-bit pattern (decimal or 0x hex). Default 0, or 0x5a5a5a5a on a
    /// drive whose deallocated blocks read as zeros; a pattern equal to that value is refused.
    #[arg(long, value_name = "U32", value_parser = crate::units::parse_u32)]
    pub pattern: Option<u32>,

    /// Overwrite methods: passes (1-16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=16), default_value_t = 1)]
    pub passes: u8,

    /// Allow an unrestricted exit from a failed sanitize (AUSE / failure mode bit).
    #[arg(long)]
    pub ause: bool,

    /// If the drive is in sanitize failure mode (its last sanitize failed), leave it first with
    /// the exit-failure-mode command, then go on.
    #[arg(long)]
    pub exit_failure_mode: bool,

    /// The command may erase what other hosts use, or namespaces this host cannot see (a
    /// dual-ported or multi-controller NVMe subsystem, a shared namespace): go ahead anyway.
    #[arg(long)]
    pub allow_shared: bool,

    /// Send an ATA security erase (--method ata-security-erase[-enhanced]) through a USB or
    /// unknown bridge although it can leave the drive locked: nist-purge never chooses one
    /// there, and a method asked for by name is refused without this.
    #[arg(long)]
    pub allow_bridged_security_erase: bool,

    /// NVMe Sanitize: set No-Deallocate After Sanitize for an overwrite only (auto), for every
    /// sanitize method (on), or never (off); never where the drive inhibits it (SANICAP NDI).
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub no_deallocate: NoDeallocateArg,

    /// Share of the device sampled before and after, percent (1-100).
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(1..=100), default_value_t = 1)]
    pub verify_percent: u8,

    /// Do not write canaries at the samples before the purge: compare what was there before
    /// instead (a sample that held the same uniform bytes before and after then proves nothing).
    #[arg(long)]
    pub no_canaries: bool,

    /// The PSID printed on a self-encrypting drive's label, for --method tcg-psid-revert
    /// (`-`: read it from standard input; on the command line other users can see it in the
    /// process list). Never logged, never in the certificate.
    #[arg(long, value_name = "CODE")]
    pub psid: Option<String>,

    /// A file holding the owner's SID password of a self-encrypting drive, for --method
    /// tcg-revert. Never logged, never in the certificate.
    #[arg(long, value_name = "FILE")]
    pub sid_file: Option<PathBuf>,

    /// A file holding a TCG Enterprise drive's EraseMaster password, for --method tcg-erase
    /// (which erases every band). Never logged, never in the certificate.
    #[arg(long, value_name = "FILE")]
    pub erase_master_file: Option<PathBuf>,

    /// For --method tcg-erase on a drive whose EraseMaster password was never set: authenticate
    /// with the MSID the drive reports (a drive whose owner set it counts this as a wrong try).
    #[arg(long, conflicts_with = "erase_master_file")]
    pub erase_master_msid: bool,

    /// Before the command, save the logs a vendor's failure analysis needs and the purge does
    /// not keep (NVMe SMART/Health and Error Information; ATA SMART data and error log) beside
    /// the certificate, each hashed in it.
    #[arg(long)]
    pub rma_capture: bool,

    /// Only take mediasan's temporary ATA security password off the drive (left by an
    /// interrupted security erase): SECURITY UNLOCK and DISABLE PASSWORD, then check. Erases
    /// nothing.
    #[arg(long, conflicts_with_all = ["dry_run", "exit_failure_mode"])]
    pub unlock: bool,

    /// Seconds between progress polls of the drive.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0, value_parser = crate::units::parse_poll_interval)]
    pub poll_interval: f64,

    /// Finish a purge an earlier run left (Ctrl-C, a dropped session, a reboot while the drive
    /// sanitized): follow the drive to the end, read the canaries recorded at the start, and
    /// certify it. Sends nothing that erases.
    #[arg(long, conflicts_with_all = ["restart", "dry_run", "unlock", "exit_failure_mode"], help_heading = "Interruptions")]
    pub resume: bool,

    /// Discard the drive's unfinished purge (its journal) and purge again.
    #[arg(long, help_heading = "Interruptions")]
    pub restart: bool,

    /// Folder for the journals of purges in progress [default: ~/.local/state/mediasan/journal].
    #[arg(long, value_name = "DIR", help_heading = "Interruptions")]
    pub journal_dir: Option<PathBuf>,

    /// Do not ask for confirmation. Required when there is no terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Check the drive and print the exact command bytes; send nothing that erases.
    #[arg(long)]
    pub dry_run: bool,

    /// Without a terminal that redraws (a pipe, a file, cron, TERM=dumb), and in --log, a
    /// progress line per target every SECONDS.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = crate::units::parse_progress_interval)]
    pub progress_interval: f64,

    /// Newline-delimited JSON events on stdout.
    #[arg(long)]
    pub json: bool,

    /// Folder for certificates [default: the config's cert_dir, else the current folder].
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,

    /// Ed25519 OpenSSH private key to sign with, or its public half (KEY.pub) for a key held by
    /// ssh-agent; a KEY-cert.pub beside it is carried in every signature [default:
    /// $MEDIASAN_KEY, else the config's key, else the default key].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Without a terminal, create the default signing key on first use instead of refusing
    /// (also MEDIASAN_CREATE_KEY=1 or the config's create_key = true).
    #[arg(long)]
    pub create_key: bool,

    /// Organization file (see `wipe --help`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub record: RecordArgs,

    #[command(flatten)]
    pub seams: SeamArgs,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The drive (a whole NVMe namespace, SATA or SAS disk).
    #[arg(value_name = "DEVICE")]
    pub target: PathBuf,

    /// Write the recording to FILE (JSON) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Keep the serial numbers and world wide names (blanked by default, so a recording can
    /// be shared).
    #[arg(long)]
    pub keep_serial: bool,

    /// How to talk to the drive.
    #[arg(long, value_enum, default_value = "auto")]
    pub transport: BusArg,

    #[command(flatten)]
    pub seams: SeamArgs,
}

#[derive(Debug, Args)]
pub struct PurgeStatusArgs {
    /// The block device.
    #[arg(value_name = "DEVICE")]
    pub target: PathBuf,

    /// How to talk to the drive.
    #[arg(long, value_enum, default_value = "auto")]
    pub transport: BusArg,

    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The block device or image file the certificate is for.
    #[arg(value_name = "TARGET")]
    pub target: PathBuf,

    /// The certificate (.json); its signature is read from FILE.sig.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,

    #[command(flatten)]
    pub trust: TrustArgs,

    /// Reads in flight.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256), default_value_t = 4)]
    pub queue_depth: u16,

    /// Newline-delimited JSON events on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Whom to trust as a signer. Exit 0 means "authentic and from a signer you trust"; with none
/// of these (nor `allowed_signers` in the organization file) the signer is not checked and the
/// command does not exit 0.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Trust")]
pub struct TrustArgs {
    /// An OpenSSH public key (.pub) the signature must come from (repeatable).
    #[arg(long, value_name = "FILE")]
    pub pubkey: Vec<PathBuf>,
    /// An OpenSSH allowed_signers file (as for `ssh-keygen -Y verify -f`): principals,
    /// namespaces, valid-after and valid-before are honoured [default: the organization file's
    /// allowed_signers].
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// The signer must be listed under this principal in the allowed_signers file.
    #[arg(long, value_name = "NAME")]
    pub principal: Option<String>,
    /// When keys' valid-after/valid-before are judged: now (as `ssh-keygen -Y verify`),
    /// claimed (the time each certificate says it was signed: relies on the signer's clock,
    /// and the output says so), or a time `YYYYMMDD[HHMM[SS]][Z]` (as `-Overify-time`).
    #[arg(long, value_name = "WHEN", default_value = "now", value_parser = crate::cert::trust::VerifyTime::parse)]
    pub verify_time: crate::cert::trust::VerifyTime,
    /// Organization file (see `wipe --help`), for its allowed_signers.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// How a medium was destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DestroyMethod {
    Shred,
    Disintegrate,
    Pulverize,
    Incinerate,
    Melt,
    /// Purge for magnetic media only (flash is untouched).
    Degauss,
    /// Crushed or drilled (a deterrent more than a Destroy on dense media; say so in a note).
    Crush,
}

#[derive(Debug, Args)]
pub struct DestroyedArgs {
    /// The drive's serial number (or take the drive's identity from --from-cert).
    #[arg(long, value_name = "SERIAL", required_unless_present = "from_cert")]
    pub serial: Option<String>,
    /// The drive's model.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// The drive's vendor.
    #[arg(long, value_name = "VENDOR")]
    pub vendor: Option<String>,
    /// The drive's WWN.
    #[arg(long, value_name = "WWN")]
    pub wwn: Option<String>,
    /// The drive's capacity (e.g. 4TB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub size: Option<u64>,
    /// A certificate of this drive (one that recommended Destroy): its signature must check,
    /// and the drive's identity and asset tag are taken from it.
    #[arg(long, value_name = "FILE")]
    pub from_cert: Option<PathBuf>,
    /// How it was destroyed.
    #[arg(long, value_enum)]
    pub method: DestroyMethod,
    /// The facility that destroyed it (and its certification, e.g. "NAID AAA #1234").
    #[arg(long, value_name = "TEXT")]
    pub facility: String,
    /// Who saw it destroyed.
    #[arg(long, value_name = "NAME")]
    pub witness: String,
    /// The resulting particle size (e.g. "2 mm").
    #[arg(long, value_name = "TEXT")]
    pub particle_size: Option<String>,
    #[command(flatten)]
    pub record: RecordArgs,
    /// Organization file (see `wipe --help`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder for the certificate [default: the config's cert_dir, else the current folder].
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Ed25519 OpenSSH private key to sign with, or its public half (KEY.pub) for a key held by
    /// ssh-agent [default: $MEDIASAN_KEY, else the config's key, else the default key].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Without a terminal, create the default signing key on first use instead of refusing
    /// (also MEDIASAN_CREATE_KEY=1 or the config's create_key = true).
    #[arg(long)]
    pub create_key: bool,
    /// An OpenSSH allowed_signers file to check --from-cert's signer against [default: the
    /// organization file's allowed_signers].
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// A `result` event on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Folders (searched recursively), certificate files, or tar or zip bundles (.tar, .tar.gz, .tgz, .zip):
    /// every *.json with its *.json.sig.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub trust: TrustArgs,

    /// The asset register: CSV with a header row; `serial` required; `asset_tag`, `model`,
    /// `wwn` optional; other columns are carried into the report.
    #[arg(long, value_name = "FILE.csv")]
    pub assets: Option<PathBuf>,

    /// Draw this percent of the logically sanitized media for an independent re-check (R2v3
    /// asks for at least 5).
    #[arg(long, value_name = "PERCENT", value_parser = crate::units::parse_percent)]
    pub qc_percent: Option<f64>,

    /// Let an image file's or loop device's record cover a register row that gives no serial
    /// or WWN (a tester's register). Never a drive's row: by default such records cover
    /// nothing.
    #[arg(long)]
    pub allow_image_records: bool,

    /// The seed of the QC draw (any text): the same seed draws the same sample [default: a
    /// new random one, printed with the sample].
    #[arg(long, value_name = "TEXT", requires = "qc_percent")]
    pub seed: Option<String>,

    /// NDJSON events on stdout (audit_file, audit_asset, audit_summary) instead of text.
    #[arg(long)]
    pub json: bool,

    /// Also write the report as CSV to FILE: one row per asset (its columns, then the audit's),
    /// then one per record that matches no asset.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,

    /// Also write the report as one HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Replace a --csv or --html file that exists. Never an audited input or anything inside
    /// one, never through a symbolic link.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Check a certificate's signature (FILE.sig), and with --pubkey that this key made it.
    Verify(CertVerifyArgs),
    /// Print a certificate for people (its signature is checked first).
    Show(CertShowArgs),
    /// Write a printable one-page certificate (PDF or HTML), laid out like the NIST sample.
    Render(CertRenderArgs),
    /// The second person's validation: sign the certificate's exact bytes with the validator's
    /// own key, as FILE.validation.sig (SSHSIG, namespace mediasan-validation); the
    /// certificate and its signature stay untouched.
    Countersign(CertCountersignArgs),
}

#[derive(Debug, Args)]
pub struct CertCountersignArgs {
    /// The certificate (.json); its own signature (FILE.sig) must check first.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The validator's Ed25519 private key (OpenSSH format; `mediasan keygen --out FILE`
    /// makes one). Not the key that signed the certificate.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    #[command(flatten)]
    pub trust: TrustArgs,
}

/// The format of `cert render`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Pdf,
    Html,
}

#[derive(Debug, Args)]
pub struct CertShowArgs {
    /// The certificate (.json); its signature is read from FILE.sig.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct CertRenderArgs {
    /// The certificate (.json); its signature is read from FILE.sig.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// pdf or html.
    #[arg(long, value_enum, default_value = "pdf")]
    pub format: RenderFormat,

    /// Paper for the PDF [default: the organization file's `paper`, else /etc/papersize, else
    /// Letter in the US, Canada and Mexico (by the locale) and A4 elsewhere].
    #[arg(long, value_enum)]
    pub paper: Option<PaperArg>,

    /// Where to write it (replaces only a rendering mediasan wrote; any other file is refused).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// Render even when the signer is not trusted or not checked: the page is then marked
    /// SIGNATURE NOT CHECKED (or SIGNER NOT TRUSTED) across it, and the exit is still 1.
    #[arg(long)]
    pub unchecked: bool,

    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct CertVerifyArgs {
    /// The certificate (.json); its signature is read from FILE.sig.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The signature file [default: FILE.sig].
    #[arg(long, value_name = "SIG")]
    pub sig: Option<PathBuf>,

    #[command(flatten)]
    pub trust: TrustArgs,

    /// Print the outcome as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key (FILE.pub gets the public key)
    /// [default: ~/.config/mediasan/signing_key].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StopHoldersArgs {
    /// The disks (or partitions) to free: every disk under a stack must be named for it to be
    /// stopped.
    #[arg(value_name = "DEVICE", required = true)]
    pub targets: Vec<PathBuf>,

    /// Show what would be stopped, and stop nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// One JSON object on stdout: what was (or would be) stopped.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON object per device on stdout.
    #[arg(long)]
    pub json: bool,
    /// Where wipe keeps its journals, to show unfinished wipes [default:
    /// ~/.local/state/mediasan/journal].
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,

    #[command(flatten)]
    pub seams: SeamArgs,
}

#[derive(Debug, Args)]
pub struct PoliciesArgs {
    /// Print one built-in policy's TOML text.
    #[arg(long, value_name = "NAME")]
    pub show: Option<String>,

    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_help_lists_no_option_the_bench_refuses() {
        use clap::CommandFactory;
        let mut c = Cli::command();
        let bench = c.find_subcommand_mut("bench").expect("bench");
        let help = bench.render_long_help().to_string();
        for flag in [
            "--create ",
            "--dry-run",
            "--resume",
            "--all-or-nothing",
            "--asset-tag",
        ] {
            assert!(!help.contains(flag), "bench --help lists {flag}");
        }
        // ... and each is still refused by name when given (settings::Bench).
        for flag in [
            &["--create", "1M"][..],
            &["--dry-run"],
            &["--resume"],
            &["--all-or-nothing"],
            &["--asset-tag", "A1"],
        ] {
            let mut argv = vec!["mediasan", "bench", "--include", "sd*"];
            argv.extend_from_slice(flag);
            let cli = Cli::try_parse_from(argv).expect("parses");
            let Command::Bench(b) = cli.command else {
                panic!("not bench")
            };
            let Err(e) = crate::settings::Bench::new(&b) else {
                panic!("{flag:?} was not refused")
            };
            assert!(e.to_string().contains("bench takes no"), "{e}");
        }
    }
    use clap::CommandFactory;

    #[test]
    fn cli_is_valid() {
        Cli::command().debug_assert();
    }

    /// docs/guide.md's table of defaults, as the command line defines them.
    fn defaults_table() -> String {
        let cli = super::Cli::command();
        let mut out = String::from("| command | option | default |\n|---|---|---|\n");
        for name in ["wipe", "purge", "verify", "bench"] {
            let sub = cli.find_subcommand(name).expect("subcommand");
            // bench's own; the rest are wipe's and sanitize's, with the same defaults.
            let own = |a: &&clap::Arg| name != "bench" || a.get_help_heading() == Some("Bench");
            for a in sub.get_arguments().filter(|a| !a.is_hide_set()).filter(own) {
                let d: Vec<String> = a
                    .get_default_values()
                    .iter()
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect();
                if d.is_empty() || a.get_long().is_none() {
                    continue;
                }
                out += &format!(
                    "| {name} | `--{}` | {} |\n",
                    a.get_long().unwrap_or_default(),
                    d.join(", ")
                );
            }
        }
        out
    }

    #[test]
    fn every_policy_help_states_the_default_the_code_applies() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        let help = |cli: &mut clap::Command, sub: &str| {
            cli.find_subcommand_mut(sub)
                .unwrap()
                .render_long_help()
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        for sub in ["sanitize", "bench"] {
            let h = help(&mut cli, sub);
            assert!(
                h.contains(&format!("[default: {};", crate::policy::SANITIZE_DEFAULT)),
                "{sub}: {h}"
            );
            assert!(!h.contains("else nist-clear"), "{sub}: {h}");
        }
        let h = help(&mut cli, "wipe");
        assert!(
            h.contains(&format!(
                "[default: the config's policy, else {}]",
                crate::policy::DEFAULT
            )),
            "{h}"
        );
    }

    #[test]
    fn the_docs_state_the_defaults_the_code_has() {
        let readme = include_str!("../docs/guide.md");
        let start = "<!-- defaults: generated from the clap definitions; a test compares -->\n";
        let from = readme.find(start).expect("the defaults table's marker") + start.len();
        let to = from + readme[from..].find("\n\n").unwrap_or(readme.len() - from) + 1;
        let want = defaults_table();
        assert_eq!(
            &readme[from..to],
            want,
            "update docs/guide.md's table to:\n{want}"
        );
        // And the prose (lines joined) of the README and the docs: the default policy, its
        // sample, its generator.
        let all = [
            include_str!("../README.md"),
            readme,
            include_str!("../docs/techniques.md"),
            include_str!("../docs/performance.md"),
            include_str!("../docs/certificates.md"),
        ]
        .concat();
        let prose = all.split_whitespace().collect::<Vec<_>>().join(" ");
        let nist = crate::policy::load(crate::policy::DEFAULT).unwrap();
        for claim in [
            format!("with the default policy `{}`", crate::policy::DEFAULT),
            format!("reads {} % of it back", nist.verify_percent),
            format!(
                "`{}` samples {} %",
                crate::policy::DEFAULT,
                nist.verify_percent
            ),
            format!(
                "random passes are, by default, the {} keystream",
                match nist.prng {
                    crate::pattern::Prng::Aes128Ctr => "AES-128-CTR",
                    crate::pattern::Prng::ChaCha8 => "ChaCha8",
                    crate::pattern::Prng::ChaCha12 => "ChaCha12",
                    crate::pattern::Prng::ChaCha20 => "ChaCha20",
                }
            ),
        ] {
            assert!(
                prose.contains(&claim),
                "the README or docs/ should say: {claim}"
            );
        }
    }
}
