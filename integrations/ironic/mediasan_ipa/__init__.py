"""An ironic-python-agent hardware manager that erases block devices with mediasan: the NIST
SP 800-88 technique per drive (the drive's own sanitize where it has one), verified, with a
signed certificate per disk, kept in the ramdisk-log bundle and shipped to a destination the
operator names. The Rust binary does the work; this module calls it and maps its JSON events:

- every certificate PASS -> the erase succeeds (the step result names the certificates);
- FAIL or INCOMPLETE -> BlockDeviceEraseError with the certificate's reasons;
- a device mediasan cannot handle at all (no certificate) -> BlockDeviceEraseError, or, only if
  the node allows it (driver_info mediasan_allow_fallthrough), IncompatibleHardwareMethodError so
  the next hardware manager erases it. A skipped device is never reported erased.

Node settings (driver_info): mediasan_policy (default nist-decommission),
mediasan_verify_percent, mediasan_cert_destination (a directory, or an http(s) URL that
takes a PUT per file), mediasan_allow_fallthrough. Environment: MEDIASAN_BINARY, MEDIASAN_CERT_DIR.

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
import subprocess
import time
import urllib.request

from ironic_python_agent import errors, hardware

CERT_DIR = os.environ.get("MEDIASAN_CERT_DIR", "/var/log/mediasan/certificates")


def _binary():
    return os.environ.get("MEDIASAN_BINARY", "mediasan")


def _settings(node, policy=None, verify_percent=None, destination=None):
    info = (node or {}).get("driver_info") or {}
    return {
        "policy": policy or info.get("mediasan_policy") or "nist-decommission",
        "verify_percent": verify_percent or info.get("mediasan_verify_percent"),
        "destination": destination or info.get("mediasan_cert_destination"),
        "fallthrough": _true(info.get("mediasan_allow_fallthrough")),
        "key": info.get("mediasan_key") or "",
        "agent_socket": info.get("mediasan_agent_socket") or "",
        "new_key": _true(info.get("mediasan_allow_new_key")),
        "node": (node or {}).get("uuid") or "",
    }


def _true(v):
    return str(v if v is not None else "").lower() in ("1", "true", "yes")


def sanitize(devices, s):
    """Runs mediasan over `devices` at once; returns {device: [result events]} and the errors."""
    os.makedirs(CERT_DIR, exist_ok=True)
    cmd = [_binary(), "sanitize", "--yes", "--json", "--policy", s["policy"], "--cert-dir", CERT_DIR]
    if s["verify_percent"]:
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
    proc = subprocess.run(cmd + list(devices), capture_output=True, text=True, env=env)
    results, errs = {}, []
    for line in proc.stdout.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event") == "result":
            results.setdefault(e.get("target"), []).append(e)
        elif e.get("event") == "error":
            errs.append(e.get("error", ""))
    if proc.returncode != 0 and not errs:
        errs.append((proc.stderr.strip().splitlines() or ["mediasan exit %d" % proc.returncode])[-1])
    return results, errs


def ship(files, destination, attempts=3):
    """Copies each certificate and signature to `destination` (a folder, or an http(s) URL
    taking a PUT per file), with retries. Raises on failure: a certificate is never dropped."""
    if not destination:
        return
    for f in files:
        name = os.path.basename(f)
        for i in range(attempts):
            try:
                if destination.startswith(("http://", "https://")):
                    with open(f, "rb") as fh:
                        req = urllib.request.Request(
                            destination.rstrip("/") + "/" + name, data=fh.read(), method="PUT"
                        )
                    with urllib.request.urlopen(req, timeout=30) as r:
                        if r.status >= 300:
                            raise OSError("HTTP %d" % r.status)
                else:
                    os.makedirs(destination, exist_ok=True)
                    shutil.copy2(f, os.path.join(destination, name))
                break
            except OSError as e:
                if i == attempts - 1:
                    raise errors.BlockDeviceEraseError(
                        "mediasan: the certificate %s could not be shipped to %s: %s" % (name, destination, e)
                    )
                time.sleep(2**i)


def judge(device, results, errs, s):
    """The erase's outcome for one device: its summary, or the exception Ironic should see."""
    got = results.get(device, [])
    if not got:
        why = "; ".join(errs) or "no certificate was written"
        if s["fallthrough"]:
            raise errors.IncompatibleHardwareMethodError("mediasan cannot sanitize %s: %s" % (device, why))
        raise errors.BlockDeviceEraseError("mediasan did not sanitize %s: %s" % (device, why))
    bad = [r for r in got if r.get("result") != "PASS"]
    if bad:
        raise errors.BlockDeviceEraseError(
            "mediasan: %s %s: %s"
            % (device, "/".join(r["result"] for r in bad), "; ".join(x for r in bad for x in r.get("reasons", [])))
        )
    return {
        "device": device,
        "result": "PASS",
        "certificates": [r.get("id") for r in got],
    }


def files_of(results):
    return [f for rs in results.values() for r in rs for f in (r.get("certificate"), r.get("signature")) if f]


class MediasanHardwareManager(hardware.HardwareManager):
    HARDWARE_MANAGER_NAME = "MediasanHardwareManager"
    HARDWARE_MANAGER_VERSION = "1"

    def evaluate_hardware_support(self):
        if shutil.which(_binary()):
            return hardware.HardwareSupport.SERVICE_PROVIDER
        return hardware.HardwareSupport.NONE

    def erase_block_device(self, node, block_device):
        s = _settings(node)
        results, errs = sanitize([block_device.name], s)
        ship(files_of(results), s["destination"])
        return judge(block_device.name, results, errs, s)

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
        """All the node's disks at once (mediasan runs them in parallel)."""
        s = _settings(node, policy, verify_percent, cert_destination)
        names = devices or [d.name for d in hardware.dispatch_to_managers("list_block_devices")]
        results, errs = sanitize(names, s)
        ship(files_of(results), s["destination"])
        s["fallthrough"] = False  # a step has nobody to fall through to
        return {d: judge(d, results, errs, s) for d in names}

    def collect_system_logs(self, io_dict, file_list):
        if os.path.isdir(CERT_DIR):
            file_list.extend(os.path.join(CERT_DIR, f) for f in sorted(os.listdir(CERT_DIR)))
