//! The purge engine on NVMe: identifying what the controller can do, the Sanitize and Format
//! NVM commands, the Sanitize Status log, the Persistent Event Log.

use std::io;

use super::*;
use crate::device::nvme;
use crate::device::passthrough::Passthrough;

pub(super) fn exit_sanitize() -> nvme::Sanitize {
    nvme::Sanitize {
        action: nvme::SanitizeAction::ExitFailureMode,
        ause: false,
        overwrite_passes: 0,
        invert_between_passes: false,
        no_deallocate: false,
        pattern: 0,
    }
}

pub(super) fn nvme_ok(what: &str, r: io::Result<(u16, u32)>) -> io::Result<u32> {
    match r? {
        (0, result) => Ok(result),
        (status, _) => Err(io::Error::other(format!(
            "{what}: NVMe status {status:#06x}"
        ))),
    }
}

pub(super) fn probe_nvme(d: &dyn Passthrough) -> io::Result<Caps> {
    let mut id = [0u8; 4096];
    nvme_ok(
        "Identify Controller",
        d.nvme(&nvme::identify_controller(), &mut id),
    )?;
    let c = nvme::parse_controller(&id);
    let mut supported = method::nvme_purges(&c);
    if c.format {
        if c.format_crypto {
            supported.push(Method::NvmeFormatCrypto);
        }
        supported.push(Method::NvmeFormatUserData);
    }
    let mut caps = Caps {
        model: c.model.clone(),
        serial: c.serial.clone(),
        supported,
        medium: Medium::Flash,
        medium_why: "NVMe".into(),
        controller: Some(c.clone()),
        ..Caps::default()
    };
    if !(c.sanitize_crypto || c.sanitize_block || c.sanitize_overwrite) {
        return Ok(caps);
    }
    let mut log = [0u8; 512];
    match nvme_ok(
        "Sanitize Status log",
        d.nvme(&nvme::sanitize_log(), &mut log),
    ) {
        Err(e) => caps.blockers.push(Blocker::only(
            &NVME_SANITIZE,
            format!(
                "its Sanitize Status log cannot be read ({e}): a sanitize that cannot be followed is not started"
            ),
        )),
        Ok(_) => {
            let st = nvme::parse_sanitize_log(&log);
            if st.status == 3 {
                let restricted = match st.state {
                    2 => Some(true),
                    4 => Some(false),
                    _ => None,
                };
                caps.failure = Some(FailureMode {
                    restricted,
                    detail: format!(
                        "the last sanitize failed (SSTAT 3{})",
                        match restricted {
                            Some(true) => ", restricted: only a new sanitize leaves it",
                            Some(false) => ", unrestricted",
                            None => "",
                        }
                    ),
                });
                caps.blockers.push(Blocker::only(
                    &NVME_FORMAT,
                    "the drive is in sanitize failure mode, where Format NVM is refused: a new sanitize \
                     (nist-purge) is the way out",
                ));
            }
            if st.status == 2 {
                caps.blockers.push(Blocker::all(format!(
                    "a sanitize is in progress ({:.0} %)",
                    st.percent()
                )));
            }
            for (m, e, nd) in [
                (Method::NvmeSanitizeOverwrite, st.est_overwrite, st.est_overwrite_nd),
                (Method::NvmeSanitizeBlock, st.est_block, st.est_block_nd),
                (Method::NvmeSanitizeCrypto, st.est_crypto, st.est_crypto_nd),
            ] {
                let known = |e: u32| {
                    (e != 0 && e != u32::MAX).then_some(Estimate {
                        seconds: u64::from(e),
                        at_least: false,
                    })
                };
                caps.estimates.extend(known(e).map(|x| (m, x)));
                caps.estimates_nd.extend(known(nd).map(|x| (m, x)));
            }
        }
    }
    Ok(caps)
}

/// What Identify Namespace says of `nsid` (its format, whether it is shared, what its
/// deallocated blocks read as).
///
/// # Errors
/// When Identify Namespace fails.
pub fn namespace(d: &dyn Passthrough, nsid: u32) -> io::Result<nvme::Namespace> {
    let mut ns = [0u8; 4096];
    nvme_ok(
        "Identify Namespace",
        d.nvme(&nvme::identify_namespace(nsid), &mut ns),
    )?;
    Ok(nvme::parse_namespace(&ns))
}

/// The namespaces active on the controller (Identify, CNS 2).
///
/// # Errors
/// When the controller does not answer.
pub fn active_namespaces(d: &dyn Passthrough) -> io::Result<Vec<u32>> {
    let mut list = [0u8; 4096];
    nvme_ok(
        "Identify Active Namespace ID list",
        d.nvme(&nvme::identify_active_namespaces(), &mut list),
    )?;
    Ok(nvme::parse_namespace_list(&list))
}

pub(super) fn poll_nvme(d: &dyn Passthrough, expect: &Expect) -> State {
    let mut log = [0u8; 512];
    if let Err(e) = nvme_ok(
        "Sanitize Status log",
        d.nvme(&nvme::sanitize_log(), &mut log),
    ) {
        return State::Unknown(e.to_string());
    }
    let st = nvme::parse_sanitize_log(&log);
    match st.status {
        2 => State::Running(st.percent()),
        1 | 4 => {
            if let Some(sent) = expect.nvme_cdw10 {
                // SANACT, AUSE, OWPASS, OIPBP, NDAS: bits 9:0.
                if st.last_cdw10 & 0x3FF != sent & 0x3FF {
                    return State::Failed(format!(
                        "the drive's log reports the completion of another sanitize (CDW10 {:#x}; mediasan sent {sent:#x})",
                        st.last_cdw10
                    ));
                }
            }
            if let Some(p) = expect.passes {
                if st.passes_done != p {
                    return State::Failed(format!(
                        "the drive reports {} overwrite passes completed, {p} were asked",
                        st.passes_done
                    ));
                }
            }
            let mut words = format!(
                "completed (SSTAT {}{}); Global Data Erased {}",
                st.status,
                if st.status == 4 {
                    ": the drive deallocated all user data although No-Deallocate was asked"
                } else {
                    ""
                },
                if st.global_data_erased { "1" } else { "0" }
            );
            if expect.passes.is_some() {
                words += &format!("; {} overwrite passes", st.passes_done);
            }
            State::Completed(words)
        }
        3 => State::Failed(format!(
            "the drive reports the sanitize failed (SSTAT 3{})",
            match st.state {
                2 => ", restricted failure",
                4 => ", unrestricted failure",
                _ => "",
            }
        )),
        0 => State::Idle("the drive reports no sanitize ever completed (SSTAT 0)".into()),
        s => State::Unknown(format!("reserved SSTAT {s}")),
    }
}

/// The Persistent Event Log's sanitize and format events, where the controller keeps one:
/// the header (establishing the reporting context), the log up to 64 KiB, the context
/// released.
pub(super) fn persistent_events(d: &dyn Passthrough) -> (Vec<String>, String) {
    let mut head = [0u8; 512];
    if !matches!(
        d.nvme(&nvme::persistent_event_log(1, 512), &mut head),
        Ok((0, _))
    ) {
        return (vec![], String::new());
    }
    let total = u64::from_le_bytes(head[8..16].try_into().unwrap_or([0; 8]));
    let len = u32::try_from(total.clamp(512, 64 << 10)).unwrap_or(512) / 4 * 4;
    let mut log = vec![0u8; len as usize];
    let read = matches!(
        d.nvme(&nvme::persistent_event_log(0, len), &mut log),
        Ok((0, _))
    );
    let _ = d.nvme(&nvme::persistent_event_log(2, 512), &mut [0u8; 512]);
    if !read {
        return (vec![], String::new());
    }
    (
        nvme::pel_sanitize_events(&log),
        blake3::hash(&log).to_hex().to_string(),
    )
}

/// Starts a Sanitize: the drive's own status is a refusal (it did not start).
pub(super) fn start_sanitize(d: &dyn Passthrough, s: &nvme::Sanitize) -> Result<(), StartError> {
    match d.nvme(&nvme::sanitize(s), &mut []) {
        Ok((0, _)) => Ok(()),
        // The drive's own status: it did not start.
        Ok((status, _)) => Err(StartError::Refused(format!(
            "Sanitize: NVMe status {status:#06x}"
        ))),
        Err(e) => Err(StartError::transport("Sanitize", &e)),
    }
}

/// Runs a Format NVM with Secure Erase Settings `ses` (it returns when the format is done),
/// only on a namespace formatted exactly as `o` says.
pub(super) fn start_format(d: &dyn Passthrough, ses: u8, o: &Options) -> Result<(), StartError> {
    let refused = |e: String| StartError::Refused(e);
    // Another format would change the block size or the protection under the user's feet.
    let now = namespace(d, o.nsid)
        .map_err(|e| refused(e.to_string()))?
        .format;
    if now.lbaf != o.format.lbaf {
        return Err(refused(format!(
            "namespace {} uses LBA format {}, not {}; nothing was sent",
            o.nsid, now.lbaf, o.format.lbaf
        )));
    }
    if now != o.format {
        return Err(refused(format!(
            "namespace {} is formatted as {now:?}, not {:?}; nothing was sent",
            o.nsid, o.format
        )));
    }
    let cmd = nvme::format_nvm(o.nsid, o.format, ses, nvme::format_timeout_ms(o.capacity));
    match d.nvme(&cmd, &mut []) {
        Ok((0, _)) => Ok(()),
        // The command was accepted by the kernel; only the drive's status tells whether
        // it started: a status here is a refusal, a transport error (timeout, reset) is not.
        Ok((status, _)) => Err(refused(format!("Format NVM: NVMe status {status:#06x}"))),
        Err(e) => Err(StartError::Failed(format!(
            "Format NVM did not complete ({e}); the namespace may be partly formatted: do not \
             use it until a new purge has succeeded"
        ))),
    }
}

/// Sanitize's Exit Failure Mode action.
pub(super) fn exit_failure_mode(d: &dyn Passthrough) -> io::Result<()> {
    nvme_ok(
        "Sanitize (exit failure mode)",
        d.nvme(&nvme::sanitize(&exit_sanitize()), &mut []),
    )?;
    Ok(())
}

/// The Sanitize Status log (81h) for the certificate: its fields named into `fields`, and
/// the raw log.
pub(super) fn sanitize_record(
    d: &dyn Passthrough,
    fields: &mut std::collections::BTreeMap<String, String>,
) -> Option<(&'static str, Vec<u8>)> {
    let mut log = [0u8; 512];
    nvme_ok(
        "Sanitize Status log",
        d.nvme(&nvme::sanitize_log(), &mut log),
    )
    .ok()?;
    let st = nvme::parse_sanitize_log(&log);
    let est = |v: u32| {
        if v == u32::MAX {
            "none".to_string()
        } else {
            format!("{v} s")
        }
    };
    for (k, v) in [
        ("SPROG", format!("{} / 65536", st.progress)),
        ("SSTAT status", st.status.to_string()),
        ("SSTAT overwrite passes", st.passes_done.to_string()),
        (
            "SSTAT global data erased",
            u8::from(st.global_data_erased).to_string(),
        ),
        ("SCDW10", format!("{:#010x}", st.last_cdw10)),
        ("estimate overwrite", est(st.est_overwrite)),
        ("estimate block erase", est(st.est_block)),
        ("estimate crypto erase", est(st.est_crypto)),
        ("sanitize state", st.state.to_string()),
    ] {
        fields.insert(k.to_string(), v);
    }
    Some(("NVMe Sanitize Status log (81h)", log.to_vec()))
}
