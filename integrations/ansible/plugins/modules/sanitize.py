#!/usr/bin/python
"""Ansible module: run `mediasan sanitize` on the named devices and return one result per
device (result, certificate id and files, reasons). The binary does the work; this module only
calls it once with --json and maps its events. A device without a PASS certificate fails the
task for this host; nothing is ever reported sanitized without a certificate."""

import json
import os
import shutil

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: sanitize
short_description: Sanitize block devices with mediasan and return their certificates
description:
  - Runs C(mediasan sanitize) once over the named devices (the NIST SP 800-88 technique per drive,
    verified) and returns one result per device with its signed certificate. A device without
    a PASS certificate fails the task for this host.
author: mediasan contributors
options:
  binary: {type: str, default: mediasan}
  devices: {type: list, elements: str, required: true}
  policy: {type: str, default: nist-decommission}
  cert_dir: {type: str, required: true}
  key: {type: str, default: ""}
  node: {type: dict, default: {}}
  extra_args: {type: list, elements: str, default: []}
  force: {type: bool, default: false}
  stop_holders:
    type: bool
    default: false
    description: First stop the md arrays, LVM/device-mapper volumes and bcache on the devices (mediasan stop-holders; only stacks whose every disk is named, never one in use). In check mode they are only listed.
"""

EXAMPLES = r"""
- name: Sanitize two drives with the host's own key
  mediasan.fleet.sanitize:
    binary: /usr/bin/mediasan
    devices: [/dev/disk/by-id/wwn-0x5000c500a1b2c3d4, /dev/disk/by-id/nvme-eui.0025388b71b2c3d4]
    policy: nist-decommission
    cert_dir: /var/lib/mediasan/certificates
    key: /var/lib/mediasan/signing_key
    node: {inventory: "{{ inventory_hostname }}"}
"""

RETURN = r"""
results:
  description: One entry per device and policy step.
  type: list
  elements: dict
  contains:
    device: {type: str, description: the device as named}
    result: {type: str, description: PASS, FAIL, INCOMPLETE or ERROR (no certificate)}
    certificate_id: {type: str}
    certificate: {type: str, description: the certificate file on the host}
    reasons: {type: list, elements: str}
    chain_id: {type: str, description: the signer's series the certificate is numbered in}
    chain_seq: {type: int, description: its number there (keep the last to see a missing end)}
    verified_again: {type: bool, description: left alone on this run because the medium still verifies against this earlier certificate}
files:
  description: The certificates and signatures on the host, for fetch.
  type: list
  elements: str
plans:
  description: In check mode, mediasan's sanitize_plan events.
  type: list
  elements: dict
stopped:
  description: With stop_holders, what was stopped (in check mode, what would be), top first.
  type: list
  elements: dict
"""


def certified(cert_dir, device, policy):
    """This host's latest PASS certificate of `device` under the built-in `policy`, if any."""
    if "/" in policy or policy.endswith(".toml") or not os.path.isdir(cert_dir):
        return None
    names = {device, os.path.realpath(device)}
    best = None
    for name in os.listdir(cert_dir):
        if not name.endswith(".json"):
            continue
        path = os.path.join(cert_dir, name)
        try:
            with open(path) as f:
                c = json.load(f)
            ok = (
                c.get("result") == "PASS"
                and c["media"]["path"] in names
                and c["sanitization"]["policy"]["name"] == policy
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if ok and (best is None or c["sanitization"]["finished"] > best[0]):
            best = (c["sanitization"]["finished"], path, c)
    return best


def verified_again(m, binary, device, found, key):
    """Whether the medium still holds exactly what `found` certifies (mediasan verify --cert:
    same medium, same samples, same bytes, signed by this host's key). Only then is a re-run
    allowed to leave the device alone: a drive written since its certificate is sanitized
    again."""
    pub = key if key.endswith(".pub") else key + ".pub"
    if not key or not os.path.exists(pub):
        return False
    rc, _, _ = m.run_command([binary, "verify", device, "--cert", found[1], "--pubkey", pub, "--json"])
    return rc == 0


def reason(stderr, rc):
    """mediasan's own last line (its one-line error), else its exit code."""
    lines = [l for l in stderr.strip().splitlines() if l.strip()]
    return lines[-1] if lines else "exit %d" % rc


def main():
    m = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="str", default="mediasan"),
            devices=dict(type="list", elements="str", required=True),
            policy=dict(type="str", default="nist-decommission"),
            cert_dir=dict(type="str", required=True),
            key=dict(type="str", default=""),
            node=dict(type="dict", default={}),
            extra_args=dict(type="list", elements="str", default=[]),
            force=dict(type="bool", default=False),
            stop_holders=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = m.params
    if not p["devices"]:
        m.exit_json(changed=False, results=[], files=[], msg="no devices named")
    binary = p["binary"] if os.path.isabs(p["binary"]) else shutil.which(p["binary"])
    if not binary or not os.access(binary, os.X_OK):
        if m.check_mode:
            # A first run in check mode: the install task has not run yet.
            m.exit_json(
                changed=True,
                plans=[],
                results=[],
                files=[],
                msg="mediasan is not installed yet (%s); it would be, then %s sanitized"
                % (p["binary"], ", ".join(p["devices"])),
            )
        m.fail_json(msg="mediasan is not installed at %s" % p["binary"], results=[], files=[])
    # A re-run leaves alone a device whose PASS certificate still verifies against the medium.
    results, files, todo = [], [], []
    for d in p["devices"]:
        found = None if p["force"] else certified(p["cert_dir"], d, p["policy"])
        if found and verified_again(m, binary, d, found, p["key"]):
            c = found[2]
            results.append(
                dict(
                    device=d,
                    result="PASS",
                    certificate_id=c.get("id", ""),
                    certificate=found[1],
                    reasons=[],
                    chain_id=(c.get("chain") or {}).get("id"),
                    chain_seq=(c.get("chain") or {}).get("seq"),
                    verified_again=True,
                )
            )
            files += [found[1], found[1] + ".sig"]
        else:
            todo.append(d)
    if not todo:
        m.exit_json(changed=False, results=results, files=files, msg="every device still verifies against its certificate")
    stopped = []
    if p["stop_holders"]:
        # What the host assembled on these disks (md, LVM, bcache), stopped first; in check
        # mode only shown. A refusal (a stack over a disk not named, or in use) erases nothing.
        hcmd = [p["binary"], "stop-holders", "--json"] + (["--dry-run"] if m.check_mode else ["--yes"]) + todo
        hrc, hout, herr = m.run_command(hcmd)
        if hrc != 0:
            m.fail_json(msg="mediasan: " + reason(herr, hrc), rc=hrc, stderr=herr, results=results, files=files)
        try:
            stopped = json.loads(hout).get("stopped") or []
        except ValueError:
            stopped = []
    cmd = [p["binary"], "sanitize", "--json", "--policy", p["policy"], "--cert-dir", p["cert_dir"]]
    cmd += ["--dry-run"] if m.check_mode else ["--yes"]
    if p["key"]:
        cmd += ["--key", p["key"]]
    for k, v in sorted(p["node"].items()):
        cmd += ["--node", "%s=%s" % (k, v)]
    cmd += p["extra_args"] + todo
    rc, out, err = m.run_command(cmd)
    events = []
    for line in out.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    if m.check_mode:
        plans = [e for e in events if e.get("event") == "sanitize_plan"]
        if rc != 0 and not plans:
            m.fail_json(msg="mediasan: " + reason(err, rc), rc=rc, stderr=err, results=[], files=[])
        m.exit_json(changed=bool(plans), plans=plans, stopped=stopped, rc=rc, stderr=err, results=[], files=[])
    for d in todo:
        got = [e for e in events if e.get("event") == "result" and e.get("target") == d]
        if not got:
            errors = [e.get("error", "") for e in events if e.get("event") == "error"]
            results.append(
                dict(device=d, result="ERROR", certificate_id="", reasons=errors or [err.strip()])
            )
        for e in got:
            results.append(
                dict(
                    device=d,
                    result=e["result"],
                    certificate_id=e.get("id", ""),
                    certificate=e.get("certificate"),
                    reasons=e.get("reasons", []),
                    chain_id=e.get("chain_id"),
                    chain_seq=e.get("chain_seq"),
                    verified_again=False,
                )
            )
            files += [f for f in (e.get("certificate"), e.get("signature")) if f]
    bad = [r for r in results if r["result"] != "PASS"]
    written = any(e.get("event") == "result" for e in events)
    if bad or rc != 0:
        m.fail_json(
            msg="not sanitized with a PASS certificate: "
            + ("; ".join("%s %s %s" % (r["device"], r["result"], " ".join(r["reasons"])) for r in bad)
               or "mediasan: " + reason(err, rc)),
            changed=written,
            results=results,
            files=files,
            rc=rc,
            stderr=err,
            stopped=stopped,
        )
    m.exit_json(changed=True, results=results, files=files, rc=rc, stopped=stopped)


if __name__ == "__main__":
    main()
