#!/usr/bin/python
"""Ansible module: run `mediasan sanitize` on the named devices and return one result per
device (result, certificate id and files, reasons). The binary does the work; this module only
calls it once with --json and maps its events. A device without a PASS certificate fails the
task for this host; nothing is ever reported sanitized without a certificate."""

import json

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: mediasan_sanitize
short_description: Sanitize block devices with mediasan and return their certificates
options:
  binary: {type: str, default: mediasan}
  devices: {type: list, elements: str, required: true}
  policy: {type: str, default: nist-decommission}
  cert_dir: {type: str, required: true}
  key: {type: str, default: ""}
  node: {type: dict, default: {}}
  extra_args: {type: list, elements: str, default: []}
"""


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
        ),
        supports_check_mode=True,
    )
    p = m.params
    if not p["devices"]:
        m.exit_json(changed=False, results=[], files=[], msg="no devices named")
    cmd = [p["binary"], "sanitize", "--json", "--policy", p["policy"], "--cert-dir", p["cert_dir"]]
    cmd += ["--dry-run"] if m.check_mode else ["--yes"]
    if p["key"]:
        cmd += ["--key", p["key"]]
    for k, v in sorted(p["node"].items()):
        cmd += ["--node", "%s=%s" % (k, v)]
    cmd += p["extra_args"] + p["devices"]
    rc, out, err = m.run_command(cmd)
    events = []
    for line in out.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    if m.check_mode:
        plans = [e for e in events if e.get("event") == "sanitize_plan"]
        m.exit_json(changed=bool(plans), plans=plans, rc=rc, stderr=err, results=[], files=[])
    results, files = [], []
    for d in p["devices"]:
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
                )
            )
            files += [f for f in (e.get("certificate"), e.get("signature")) if f]
    bad = [r for r in results if r["result"] != "PASS"]
    written = any(e.get("event") == "result" for e in events)
    if bad or rc != 0:
        m.fail_json(
            msg="not sanitized with a PASS certificate: "
            + "; ".join("%s %s %s" % (r["device"], r["result"], " ".join(r["reasons"])) for r in bad),
            changed=written,
            results=results,
            files=files,
            rc=rc,
            stderr=err,
        )
    m.exit_json(changed=True, results=results, files=files, rc=rc)


if __name__ == "__main__":
    main()
