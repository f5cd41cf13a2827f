#!/usr/bin/env python3
#
# --- Start MAAS 1.0 script metadata ---
# name: 50-mediasan-release
# title: Sanitize disks with mediasan
# description: Sanitize every disk of the machine with mediasan (NIST SP 800-88 technique per
#   drive, verified), keep a signed certificate per disk in the script's output
# tags: wipe, disk, storage, sanitize
# script_type: release
# timeout: 72:00:00
# parameters:
#   policy:
#     type: string
#     title: mediasan policy
#     description: A built-in policy (mediasan policies) or a policy file on the machine
#     argument_format: --policy={input}
#     default: nist-decommission
#   verify_percent:
#     type: string
#     title: Share read back (percent, 1-100)
#     description: Empty for the policy's own
#     argument_format: --verify-percent={input}
#     default: ""
#     required: false
#   key:
#     type: string
#     title: Signing key on the machine
#     description: KEY with KEY-cert.pub beside it, or KEY.pub for a key in the ssh-agent
#     argument_format: --key={input}
#     default: ""
#     required: false
#   allow_new_key:
#     type: choice
#     title: Allow a key made on the spot
#     description: Without a key, sign with a new one nobody trusts yet instead of failing
#     choices: ["false", "true"]
#     argument_format: --allow-new-key={input}
#     default: "false"
#     required: false
#   skip_read_only:
#     type: choice
#     title: Skip read-only disks
#     description: Report them SKIPPED instead of failing the release
#     choices: ["false", "true"]
#     argument_format: --skip-read-only={input}
#     default: "false"
#     required: false
#   stop_holders:
#     type: choice
#     title: Stop RAID, LVM and bcache on the disks first
#     description: mediasan stop-holders over every disk sanitized; a stack over a disk kept or in use fails the release
#     choices: ["false", "true"]
#     argument_format: --stop-holders={input}
#     default: "false"
#     required: false
# packages:
#   apt:
#     - mediasan
# --- End MAAS 1.0 script metadata ---
"""MAAS release script: runs `mediasan sanitize` over the machine's disks at once and writes
the result YAML MAAS keeps per machine (RESULT_PATH). The Rust binary does all the work; this
script only finds the disks, calls it once, and maps its JSON events:

- every disk PASS -> status passed; any FAIL or INCOMPLETE -> failed; a disk mediasan could not
  handle at all (an error event, no certificate) -> failed as well: never passed for a skipped
  disk.
- each disk's result, certificate id and reasons go into `results`; each certificate and its
  signature are printed on stdout, which MAAS stores with the script result.

Who signs: the key named by the `key` parameter (a path on the machine, with the fleet CA's
OpenSSH certificate beside it as KEY-cert.pub, or KEY.pub for a key in the ssh-agent at
SSH_AUTH_SOCK), else MEDIASAN_KEY or the organization file's key. With none, mediasan refuses and
the script fails, unless `allow_new_key` is true (a key made on the spot, which no auditor
trusts until its public half is collected): never a throwaway key silently.

The disks are the machine's (lsblk: whole disks), or, for tests, the comma-separated
MEDIASAN_DISKS. A read-only disk cannot be sanitized: mediasan refuses it with a signed FAIL
record and the release fails, unless `skip_read_only` is true; then it is in the results as
SKIPPED (never as sanitized) and does not fail the release.

MAAS's ephemeral environment activates LVM, bcache and md it finds; mediasan refuses held disks.
With `stop_holders` true, `mediasan stop-holders` runs first over every disk to be sanitized;
when it refuses (a stack over a disk not sanitized, or one in use) nothing is erased and the
release fails with its reason. Each disk's results are keyed by its MAAS name, "model:serial",
with its path first in the list (the path alone where lsblk knows no model or serial).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys


def disks():
    named = os.environ.get("MEDIASAN_DISKS")
    if named:
        return [d for d in named.split(",") if d]
    out = subprocess.run(
        ["lsblk", "--json", "--nodeps", "--output", "NAME,TYPE"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return ["/dev/" + d["name"] for d in json.loads(out)["blockdevices"] if d["type"] == "disk"]


def maas_names(targets):
    """Each disk as MAAS names it in a storage parameter and its UI, "model:serial" (stable
    across boots, unlike sdX), where lsblk knows both; else its path."""
    names = {}
    if not targets:
        return names
    out = subprocess.run(
        ["lsblk", "--json", "--nodeps", "--paths", "--output", "NAME,MODEL,SERIAL"] + list(targets),
        capture_output=True,
        text=True,
    )
    try:
        devices = json.loads(out.stdout).get("blockdevices") or []
    except ValueError:
        devices = []
    for d in devices:
        model, serial = (d.get("model") or "").strip(), (d.get("serial") or "").strip()
        if d.get("name") in targets and model and serial:
            names[d["name"]] = "%s:%s" % (model, serial)
    return names


def stop_holders(binary, targets):
    """`mediasan stop-holders` over the disks: (exit code, last stderr line)."""
    proc = subprocess.run([binary, "stop-holders", "--yes", "--json"] + targets, capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    return proc.returncode, (proc.stderr.strip().splitlines() or [""])[-1]


def read_only(disk):
    try:
        with open("/sys/block/%s/ro" % os.path.basename(os.path.realpath(disk))) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def run(binary, policy, verify_percent, targets, cert_dir, key="", new_key=False):
    cmd = [binary, "sanitize", "--yes", "--json", "--policy", policy, "--cert-dir", cert_dir]
    if verify_percent:
        cmd += ["--verify-percent", verify_percent]
    if key:
        cmd += ["--key", key]
    if new_key:
        cmd += ["--create-key"]
    proc = subprocess.run(cmd + targets, capture_output=True, text=True)
    events = []
    for line in proc.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return proc.returncode, events, proc.stderr


def summarize(targets, code, events, stderr, skipped=(), names=None):
    """The RESULT_PATH document: MAAS's rules (a dict; status in passed/failed/degraded/...;
    results: str -> scalar or list). Each disk's key is its MAAS name ("model:serial", see
    maas_names) with its path first in the list, or its path where the name is unknown."""
    names = names or {}
    results = {}
    by_target = {}
    for e in events:
        if e.get("event") == "result":
            by_target.setdefault(e["target"], []).append(e)
        elif e.get("event") == "error" and e.get("target"):
            by_target.setdefault(e["target"], []).append(
                {"result": "ERROR", "reasons": [e.get("error", "")], "id": ""}
            )
    ok = code == 0
    def put(t, lines):
        if t in names:
            results[names[t]] = ["device %s" % t] + lines
        else:
            results[t] = lines if len(lines) > 1 or t in by_target else lines[0]

    for t in skipped:
        put(t, ["SKIPPED: read-only (skip_read_only), not sanitized"])
    for t in targets:
        got = by_target.get(t, [])
        if not got:
            ok = False
            put(t, ["ERROR: no certificate (" + (stderr.strip().splitlines() or ["mediasan failed"])[-1] + ")"])
            continue
        for r in got:
            if r["result"] != "PASS":
                ok = False
        put(
            t,
            [
                "%s %s%s" % (r["result"], r.get("id", ""), (": " + "; ".join(r["reasons"])) if r.get("reasons") else "")
                for r in got
            ],
        )
    results["mediasan_exit"] = code
    # The last number of each signer's series this run reached: kept by MAAS, so an auditor can
    # tell when the end of a series is missing from a delivery.
    last = {}
    for e in events:
        if e.get("event") == "result" and e.get("chain_id"):
            last[e["chain_id"]] = max(last.get(e["chain_id"], 0), e.get("chain_seq") or 0)
    if last:
        results["mediasan_series"] = ["%s#%d" % kv for kv in sorted(last.items())]
    return {"status": "passed" if ok else "failed", "results": results}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--policy", default="nist-decommission")
    p.add_argument("--verify-percent", default="")
    p.add_argument("--key", default="")
    p.add_argument("--allow-new-key", default="")
    p.add_argument("--skip-read-only", default="")
    p.add_argument("--stop-holders", default="")
    p.add_argument("--mediasan", default=os.environ.get("MEDIASAN", "mediasan"))
    a = p.parse_args(argv)
    result_path = os.environ.get("RESULT_PATH")
    if not result_path:
        print("not run by MAAS (no RESULT_PATH): refusing to erase this machine's disks", file=sys.stderr)
        return 2
    cert_dir = os.path.join(os.environ.get("DOWNLOAD_PATH") or os.path.dirname(result_path), "certificates")
    os.makedirs(cert_dir, exist_ok=True)
    targets = disks()
    skipped = []
    if a.skip_read_only.lower() in ("1", "true", "yes"):
        skipped = [t for t in targets if read_only(t)]
        targets = [t for t in targets if t not in skipped]
    if not targets and not skipped:
        doc = {"status": "failed", "results": {"error": "no disks found"}}
    elif not targets:
        doc = summarize([], 0, [], "", skipped)
    elif not shutil.which(a.mediasan):
        doc = {"status": "failed", "results": {"error": "the mediasan binary (%s) is not installed" % a.mediasan}}
        print(doc["results"]["error"], file=sys.stderr)
    else:
        names = maas_names(targets + skipped)
        held = (0, "")
        if a.stop_holders.lower() in ("1", "true", "yes"):
            held = stop_holders(a.mediasan, targets)
        if held[0] != 0:
            # Nothing was erased: every disk is in the results with mediasan's reason.
            events = []
            doc = summarize(targets, held[0], events, held[1], skipped, names)
        else:
            new_key = a.allow_new_key.lower() in ("1", "true", "yes")
            code, events, stderr = run(a.mediasan, a.policy, a.verify_percent, targets, cert_dir, a.key, new_key)
            sys.stderr.write(stderr)
            doc = summarize(targets, code, events, stderr, skipped, names)
        for e in events:
            if e.get("event") == "result" and e.get("certificate"):
                for f in (e["certificate"], e.get("signature")):
                    if f and os.path.exists(f):
                        print("=== %s" % os.path.basename(f))
                        with open(f) as fh:
                            sys.stdout.write(fh.read())
                        print()
    # JSON is YAML: MAAS reads RESULT_PATH with a YAML loader.
    with open(result_path, "w") as fh:
        json.dump(doc, fh, indent=2)
    return 0 if doc["status"] == "passed" else 1


if __name__ == "__main__":
    sys.exit(main())
