"""An ironic-python-agent hardware manager that erases block devices with mediasan: the NIST
SP 800-88 technique per drive (the drive's own sanitize where it has one), verified, with a
signed certificate per disk, kept in the ramdisk-log bundle and shipped to a destination the
operator names. The Rust binary does the work; this module calls it and maps its JSON events:

- mediasan exits 0 and every device has a PASS for every step of its policy -> the erase
  succeeds (the step result names the certificates); anything else (FAIL, INCOMPLETE, a step
  that never ran, a killed process) -> BlockDeviceEraseError with the reasons;
- a device mediasan cannot handle at all (no certificate) -> BlockDeviceEraseError, or, only if
  the node allows it (driver_info mediasan_allow_fallthrough), IncompatibleHardwareMethodError so
  the next hardware manager erases it. A skipped device is never reported erased: a read-only
  device is skipped only when the conductor allows it (driver_internal_info
  agent_erase_skip_read_only), never falls through, and its result says SKIPPED.
- the manual step takes IPA's own list of erasable disks (the node's skip_block_devices
  honoured, the BMC's virtual media left out) and IPA's special-filesystem safety check.

Node settings (driver_info): mediasan_policy (default nist-decommission),
mediasan_verify_percent, mediasan_cert_destination (a directory, or an http(s) URL that
takes a PUT per file), mediasan_cert_destination_token (a bearer token; never logged),
mediasan_cert_destination_ca (a CA bundle in the ramdisk), mediasan_cert_destination_client_cert
and _client_key (a client certificate), mediasan_allow_fallthrough, mediasan_required (without
the binary, fail instead of leaving the disks to the next manager), mediasan_stop_holders (first
stop the md arrays, LVM/device-mapper volumes and bcache the ramdisk assembled on the disks to
be erased, with `mediasan stop-holders`: only stacks whose every disk is being erased, never one
in use; off by default because it changes the machine's layout). Environment: MEDIASAN_BINARY,
MEDIASAN_CERT_DIR.

Who signs (see the README): the ramdisk's key, named by MEDIASAN_KEY in the agent's environment
or driver_info mediasan_key (a path in the ramdisk; an OpenSSH certificate from the fleet CA
beside it as KEY-cert.pub is carried in every signature), or a key held by an ssh-agent
(mediasan_key = KEY.pub and mediasan_agent_socket). With none, mediasan refuses and the erase
fails, unless driver_info mediasan_allow_new_key is true: a throwaway key is never used silently.
Every certificate names the node (`--node ironic_node=<uuid>`).
"""

import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.parse
import urllib.request

from ironic_python_agent import errors, hardware
from oslo_log import log

LOG = log.getLogger(__name__)

CERT_DIR = os.environ.get("MEDIASAN_CERT_DIR", "/var/log/mediasan/certificates")

# IPA's label for the BMC's virtual media (generic manager, _is_virtual_media_device).
VIRTUAL_MEDIA_LABEL = "/dev/disk/by-label/ir-vfd-dev"


def _binary():
    return os.environ.get("MEDIASAN_BINARY", "mediasan")


def _found():
    return shutil.which(_binary())


def _true(v):
    return str(v if v is not None else "").lower() in ("1", "true", "yes")


def _settings(node, policy=None, verify_percent=None, destination=None):
    info = (node or {}).get("driver_info") or {}
    if verify_percent is None:
        verify_percent = info.get("mediasan_verify_percent")
    return {
        "policy": policy or info.get("mediasan_policy") or "nist-decommission",
        # 0 is passed on (and refused by mediasan), never taken for "not set".
        "verify_percent": verify_percent,
        "destination": destination or info.get("mediasan_cert_destination"),
        "token": info.get("mediasan_cert_destination_token") or "",
        "ca": info.get("mediasan_cert_destination_ca") or "",
        "client_cert": info.get("mediasan_cert_destination_client_cert") or "",
        "client_key": info.get("mediasan_cert_destination_client_key") or "",
        "fallthrough": _true(info.get("mediasan_allow_fallthrough")),
        "required": _true(info.get("mediasan_required")),
        "key": info.get("mediasan_key") or "",
        "agent_socket": info.get("mediasan_agent_socket") or "",
        "new_key": _true(info.get("mediasan_allow_new_key")),
        "node": (node or {}).get("uuid") or "",
        "stop_holders": _true(info.get("mediasan_stop_holders")),
        "skip_read_only": _true(((node or {}).get("driver_internal_info") or {}).get("agent_erase_skip_read_only")),
    }


def sanitize(devices, s):
    """Runs mediasan over `devices` at once. Returns its exit code, {device: [result events]},
    {device: steps planned} and the errors."""
    os.makedirs(CERT_DIR, exist_ok=True)
    cmd = [_binary(), "sanitize", "--yes", "--json", "--policy", s["policy"], "--cert-dir", CERT_DIR]
    if s["verify_percent"] is not None and str(s["verify_percent"]) != "":
        cmd += ["--verify-percent", str(s["verify_percent"])]
    if s["key"]:
        cmd += ["--key", s["key"]]
    if s["new_key"]:
        cmd += ["--create-key"]
    if s["node"]:
        cmd += ["--node", "ironic_node=%s" % s["node"]]
    env = dict(os.environ)
    if s["agent_socket"]:
        env["SSH_AUTH_SOCK"] = s["agent_socket"]
    LOG.info("mediasan: sanitizing %s with policy %s", ", ".join(devices), s["policy"])
    with subprocess.Popen(cmd + list(devices), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        results, plans, errs, logged = {}, {}, [], {}
        # Read as it comes: each device's start, progress and result reach the agent's log.
        for line in proc.stdout:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            kind, target = e.get("event"), e.get("target")
            if kind == "result":
                results.setdefault(target, []).append(e)
                LOG.info("mediasan: %s %s certificate %s", target, e.get("result"), e.get("id"))
            elif kind == "sanitize_plan" and not e.get("dry_run"):
                plans[target] = len(e.get("steps") or [])
                LOG.info("mediasan: %s: %d step(s) planned", target, plans[target])
            elif kind == "progress":
                # Every tenth of a stage, not every second.
                total = e.get("bytes_total") or 0
                step = int(10 * (e.get("bytes_done") or 0) / total) if total else 0
                here = (e.get("stage"), e.get("pass"), step)
                if logged.get(target) != here:
                    logged[target] = here
                    LOG.info("mediasan: %s %s %d %%", target, e.get("stage", ""), 10 * step)
            elif kind == "error":
                errs.append(e.get("error", ""))
                LOG.error("mediasan: %s", e.get("error", ""))
        stderr = proc.stderr.read()
        code = proc.wait()
    if code != 0:
        last = (stderr.strip().splitlines() or ["mediasan exit %d" % code])[-1]
        LOG.error("mediasan exited %d: %s", code, last)
        if not errs:
            errs.append(last)
    return code, results, plans, errs


def stop_holders(devices):
    """Stops what is stacked on `devices` (md, device-mapper, bcache) with `mediasan
    stop-holders`; raises BlockDeviceEraseError with mediasan's reason when it refuses."""
    cmd = [_binary(), "stop-holders", "--yes", "--json"] + list(devices)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["mediasan stop-holders exit %d" % proc.returncode])[-1]
        LOG.error("mediasan: %s", last)
        raise errors.BlockDeviceEraseError("mediasan: %s" % last)
    try:
        stopped = json.loads(proc.stdout).get("stopped") or []
    except ValueError:
        stopped = []
    for h in stopped:
        LOG.info("mediasan: stopped %s (%s) over %s", h.get("name"), h.get("what"), ", ".join(h.get("members") or []))
    return stopped


def _redacted(destination):
    """The destination without what may be a secret (user:password, a query string)."""
    u = urllib.parse.urlsplit(destination)
    if not u.scheme:
        return destination
    host = u.hostname or ""
    if u.port:
        host += ":%d" % u.port
    return urllib.parse.urlunsplit((u.scheme, host, u.path, "", ""))


def _context(s):
    if not (s["ca"] or s["client_cert"]):
        return None
    ctx = ssl.create_default_context(cafile=s["ca"] or None)
    if s["client_cert"]:
        ctx.load_cert_chain(s["client_cert"], s["client_key"] or None)
    return ctx


def ship(files, s, attempts=3):
    """Copies each certificate and signature to the destination (a folder, or an http(s) URL
    taking a PUT per file, with a bearer token, a CA bundle and a client certificate where
    given), with retries. Raises on failure: a certificate is never dropped. The token is never
    logged; the URL is shown without its query or credentials."""
    destination = s["destination"]
    if not destination:
        return
    shown = _redacted(destination)
    for f in files:
        name = os.path.basename(f)
        for i in range(attempts):
            try:
                if destination.startswith(("http://", "https://")):
                    u = urllib.parse.urlsplit(destination)
                    url = urllib.parse.urlunsplit(
                        (u.scheme, u.netloc, u.path.rstrip("/") + "/" + urllib.parse.quote(name), u.query, "")
                    )
                    with open(f, "rb") as fh:
                        req = urllib.request.Request(url, data=fh.read(), method="PUT")
                    if s["token"]:
                        req.add_header("Authorization", "Bearer " + s["token"])
                    with urllib.request.urlopen(req, timeout=30, context=_context(s)) as r:
                        if r.status >= 300:
                            raise OSError("HTTP %d" % r.status)
                else:
                    os.makedirs(destination, exist_ok=True)
                    shutil.copy2(f, os.path.join(destination, name))
                break
            except (OSError, ssl.SSLError, ValueError) as e:
                why = str(e).replace(s["token"], "***") if s["token"] else str(e)
                if i == attempts - 1:
                    raise errors.BlockDeviceEraseError(
                        "mediasan: the certificate %s could not be shipped to %s: %s" % (name, shown, why)
                    )
                time.sleep(2**i)
        LOG.info("mediasan: shipped %s to %s", name, shown)


def outcome(device, code, results, plans, errs, s):
    """One device's outcome: (summary, None) when it is erased, (None, exception) otherwise."""
    got = results.get(device, [])
    if not got:
        why = "; ".join(errs) or "no certificate was written"
        if s["fallthrough"]:
            return None, errors.IncompatibleHardwareMethodError("mediasan cannot sanitize %s: %s" % (device, why))
        return None, errors.BlockDeviceEraseError("mediasan did not sanitize %s: %s" % (device, why))
    bad = [r for r in got if r.get("result") != "PASS"]
    if bad:
        return None, errors.BlockDeviceEraseError(
            "mediasan: %s %s: %s"
            % (device, "/".join(r["result"] for r in bad), "; ".join(x for r in bad for x in r.get("reasons", [])))
        )
    planned = plans.get(device, 1)
    if len(got) < planned:
        return None, errors.BlockDeviceEraseError(
            "mediasan: %s: %d of %d step(s) of policy %s have a certificate" % (device, len(got), planned, s["policy"])
        )
    if code != 0:
        return None, errors.BlockDeviceEraseError(
            "mediasan exited %d (%s): %s is not reported erased" % (code, "; ".join(errs) or "killed?", device)
        )
    return {
        "device": device,
        "result": "PASS",
        "certificates": [r.get("id") for r in got],
        # Each certificate's place in its signer's series: the node's log keeps the last one.
        "series": ["%s#%s" % (r.get("chain_id"), r.get("chain_seq")) for r in got if r.get("chain_id")],
    }, None


def judge(device, code, results, plans, errs, s):
    """The erase's outcome for one device: its summary, or the exception Ironic should see."""
    ok, err = outcome(device, code, results, plans, errs, s)
    if err:
        raise err
    return ok


def files_of(results):
    return [f for rs in results.values() for r in rs for f in (r.get("certificate"), r.get("signature")) if f]


def _is_virtual_media(name):
    """The BMC's virtual media device, as IPA's generic manager recognises it."""
    if os.path.exists(VIRTUAL_MEDIA_LABEL):
        link = os.readlink(VIRTUAL_MEDIA_LABEL)
        return os.path.normpath(os.path.join(os.path.dirname(VIRTUAL_MEDIA_LABEL), link)) == name
    return False


def _is_read_only(name):
    try:
        with open("/sys/block/%s/ro" % os.path.basename(os.path.realpath(name))) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def _skipped(device, why):
    LOG.info("mediasan: skipping %s: %s (not erased)", device, why)
    return {"device": device, "result": "SKIPPED", "reason": why, "certificates": []}


def _named_device(name):
    """A BlockDevice for a device named by the step's `devices`, with what the skip list's hints
    match on (serial, WWN, model, size)."""
    out = subprocess.run(
        ["lsblk", "--json", "--nodeps", "--bytes", "-o", "NAME,MODEL,SIZE,ROTA,SERIAL,WWN,VENDOR", name],
        capture_output=True,
        text=True,
    )
    d = {}
    if out.returncode == 0:
        d = (json.loads(out.stdout).get("blockdevices") or [{}])[0]
    return hardware.BlockDevice(
        name=name,
        model=d.get("model") or "",
        size=int(d.get("size") or 0),
        rotational=d.get("rota") in (True, "1", 1),
        wwn=d.get("wwn"),
        serial=d.get("serial"),
        vendor=d.get("vendor"),
    )


class MediasanHardwareManager(hardware.HardwareManager):
    HARDWARE_MANAGER_NAME = "MediasanHardwareManager"
    HARDWARE_MANAGER_VERSION = "1"

    def evaluate_hardware_support(self):
        # Ranked above the generic manager even without the binary, so a node that requires
        # mediasan fails loudly instead of being erased by another manager without a record.
        found = _found()
        if found:
            LOG.info("mediasan: found %s", found)
        else:
            LOG.warning(
                "mediasan: %s is not on PATH: disks go to the next hardware manager (no certificates) "
                "unless the node sets driver_info mediasan_required",
                _binary(),
            )
        return hardware.HardwareSupport.SERVICE_PROVIDER

    def _missing(self, s, step):
        msg = "mediasan: %s is not installed in this ramdisk" % _binary()
        if s["required"] or step:
            LOG.error("%s; the node requires it", msg)
            raise errors.BlockDeviceEraseError(msg + (" (driver_info mediasan_required)" if s["required"] else ""))
        LOG.warning("%s: the disk goes to the next hardware manager, without a certificate", msg)
        raise errors.IncompatibleHardwareMethodError(msg)

    def erase_block_device(self, node, block_device):
        s = _settings(node)
        name = block_device.name
        if _is_virtual_media(name):
            return _skipped(name, "the BMC's virtual media")
        if _is_read_only(name):
            if s["skip_read_only"]:
                return _skipped(name, "read-only (the conductor allows skipping: agent_erase_skip_read_only)")
            raise errors.BlockDeviceEraseError(
                "mediasan: %s is read-only and the conductor has not allowed skipping it "
                "(agent_erase_skip_read_only)" % name
            )
        if not _found():
            self._missing(s, step=False)
        if s["stop_holders"]:
            # Every disk this cleaning erases (IPA's list, the skip list honoured), so an array
            # over this disk and others being erased is stopped, and one over a kept disk is not.
            erasable = hardware.dispatch_to_managers("list_block_devices_check_skip_list", node)
            names = [d.name for d in erasable if not _is_virtual_media(d.name)]
            stop_holders(names if name in names else names + [name])
        code, results, plans, errs = sanitize([name], s)
        ship(files_of(results), s)
        return judge(name, code, results, plans, errs, s)

    def get_clean_steps(self, node, ports):
        return [
            {
                "step": "erase_devices_mediasan",
                "priority": 0,
                "interface": "deploy",
                "reboot_requested": False,
                "abortable": True,
                "argsinfo": {
                    "policy": {"description": "mediasan policy (default nist-decommission)", "required": False},
                    "verify_percent": {"description": "share of each disk read back", "required": False},
                    "cert_destination": {
                        "description": "a folder or an http(s) URL the certificates are shipped to",
                        "required": False,
                    },
                },
            }
        ]

    def erase_devices_mediasan(self, node, ports, policy=None, verify_percent=None, cert_destination=None, devices=None):
        """All the node's erasable disks at once (mediasan runs them in parallel): IPA's list with
        the node's skip list (or the named `devices`, still subject to it), without the BMC's
        virtual media; read-only disks skipped only when the conductor allows it; IPA's
        special-filesystem check on each before anything is written."""
        s = _settings(node, policy, verify_percent, cert_destination)
        s["fallthrough"] = False  # a step has nobody to fall through to
        if not _found():
            self._missing(s, step=True)
        if devices:
            candidates = [_named_device(d) for d in devices]
            skip = hardware.dispatch_to_managers("get_skip_list_from_node_for_disks", node, candidates) or set()
            for d in candidates:
                if d.name in skip:
                    LOG.warning("mediasan: %s is on the node's skip_block_devices list: not erased", d.name)
            candidates = [d for d in candidates if d.name not in skip]
        else:
            candidates = hardware.dispatch_to_managers("list_block_devices_check_skip_list", node)
        out, names = {}, []
        for d in candidates:
            if _is_virtual_media(d.name):
                out[d.name] = _skipped(d.name, "the BMC's virtual media")
            elif _is_read_only(d.name) and s["skip_read_only"]:
                out[d.name] = _skipped(d.name, "read-only (agent_erase_skip_read_only)")
            else:
                names.append(d.name)
        for name in names:
            hardware.safety_check_block_device(node, name)
        if not names:
            return out
        if s["stop_holders"]:
            stop_holders(names)
        code, results, plans, errs = sanitize(names, s)
        ship(files_of(results), s)
        failed = []
        for name in names:
            ok, err = outcome(name, code, results, plans, errs, s)
            if err:
                failed.append(str(err))
            else:
                out[name] = ok
        if failed or code != 0:
            raise errors.BlockDeviceEraseError(
                "; ".join(failed) or "mediasan exited %d: %s" % (code, "; ".join(errs))
            )
        return out

    def collect_system_logs(self, io_dict, file_list):
        if os.path.isdir(CERT_DIR):
            file_list.extend(os.path.join(CERT_DIR, f) for f in sorted(os.listdir(CERT_DIR)))
