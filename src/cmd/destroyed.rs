//! `mediasan destroyed`: the record of a physical destruction, signed like every certificate:
//! the drive (from flags, or from the certificate that recommended destroying it) → its record
//! → `cert::build::destroyed` → sign and store.

use std::time::SystemTime;

use crate::cert::{self, trust, Destruction, Media};
use crate::cli::{DestroyMethod, DestroyedArgs};
use crate::error::{Error, Exit};
use crate::evidence::{self, Folder, RESERVE_BYTES};
use crate::progress::Reporter;
use crate::records::{Key, Records};

pub fn run(args: &DestroyedArgs) -> anyhow::Result<Exit> {
    let config = crate::config::load(args.config.as_deref())?;
    let reporter = Reporter::new(args.json, std::time::Duration::from_secs(30));
    let (mut media, follows) = media(args, &config)?;
    let records = Records::new(&args.record, &config)?;
    let keys = [Key {
        serial: media.identity.serial.clone(),
        wwn: media.identity.wwn.clone(),
        ..Key::named(std::path::Path::new(&media.identity.serial))
    }];
    let mut resolved = records.resolve(&keys)?;
    let mut record = resolved.remove(0);
    if record.asset_tag.is_empty() {
        // The tag the earlier certificate recorded, unless one was given now.
        record.asset_tag = std::mem::take(&mut media.asset_tag);
    }
    for w in records.warnings(std::slice::from_ref(&record), &keys) {
        reporter.say(&w);
    }
    let d = Destruction {
        method: method_name(args.method).into(),
        facility: args.facility.clone(),
        witness: args.witness.clone(),
        particle_size: args.particle_size.clone().unwrap_or_default(),
        follows,
    };
    let c = cert::build::destroyed(media, d, SystemTime::now(), &record);
    let dir = crate::settings::cert_dir(args.cert_dir.as_ref(), &config);
    let signing = crate::settings::key(args.key.as_ref(), args.create_key, &config);
    super::key_ready(&signing)?;
    let folder = Folder::prepare(&dir, RESERVE_BYTES, "certificate folder (--cert-dir)")?;
    let key = super::load_key(&signing, &reporter)?;
    let stored = super::store_certificate(
        &c,
        &evidence::fallbacks(&folder.path, None),
        &key,
        &reporter,
    )?;
    let name = c.media.identity.serial.clone();
    let rep = reporter.target(&name);
    super::announce(&c, stored, &rep);
    Ok(Exit::Pass)
}

fn method_name(m: DestroyMethod) -> &'static str {
    match m {
        DestroyMethod::Shred => "shred",
        DestroyMethod::Disintegrate => "disintegrate",
        DestroyMethod::Pulverize => "pulverize",
        DestroyMethod::Incinerate => "incinerate",
        DestroyMethod::Melt => "melt",
        DestroyMethod::Degauss => "degauss",
        DestroyMethod::Crush => "crush",
    }
}

/// The drive: from `--from-cert` (whose signature must check; flags may add to it, never
/// contradict it), else from the flags. Also the id of the certificate it follows.
fn media(
    args: &DestroyedArgs,
    config: &crate::config::Config,
) -> anyhow::Result<(Media, Option<String>)> {
    let mut m = Media {
        kind: "block".into(),
        ..Media::default()
    };
    let mut follows = None;
    if let Some(file) = &args.from_cert {
        let files = trust::allowed_signers_files(
            args.allowed_signers.as_deref(),
            config.allowed_signers.as_deref(),
        );
        let t = trust::Trust::load(&[], &files, None)?;
        let checked = crate::session::certificates::load_checked(file, None, &t)?;
        if !checked.signer.trusted() {
            return Err(Error::Usage(format!(
                "{} is signed by {}; a destruction record follows only a certificate from a trusted signer \
                 (--allowed-signers FILE, or allowed_signers in the organization file)",
                file.display(),
                checked.signer.describe()
            ))
            .into());
        }
        m = checked.cert.media.clone();
        m.hidden_areas = Default::default();
        m.direct_io = false;
        follows = Some(checked.cert.id.clone());
        if args.serial.as_ref().is_some_and(|s| {
            !m.identity.serial.trim().is_empty() && s.trim() != m.identity.serial.trim()
        }) {
            return Err(Error::Usage(format!(
                "--serial differs from the serial {:?} in {}; leave it out",
                m.identity.serial,
                file.display()
            ))
            .into());
        }
    }
    let set = |v: &Option<String>, f: &mut String| {
        if let Some(v) = v {
            *f = v.trim().to_string();
        }
    };
    set(&args.serial, &mut m.identity.serial);
    set(&args.model, &mut m.identity.model);
    set(&args.vendor, &mut m.identity.vendor);
    set(&args.wwn, &mut m.identity.wwn);
    if let Some(s) = args.size {
        m.size_bytes = s;
    }
    if m.identity.serial.is_empty() {
        return Err(
            Error::Usage("the drive has no serial number to record; give --serial".into()).into(),
        );
    }
    if m.path.is_empty() {
        m.path = m.identity.serial.clone();
    }
    Ok((m, follows))
}
