"""The collection mediasan.fleet as a user gets it (built with ansible-galaxy collection build,
installed with ansible-galaxy collection install) and its role through ansible-playbook
(ansible-core from PyPI, in the virtualenv .ci/run makes): two local hosts with forks, each with loop devices this test creates; the certificates fetched
per host; a host with a device that cannot be sanitized fails alone; the install step is
idempotent."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("MEDIASAN", os.path.join(ROOT, "target", "debug", "mediasan"))
PLAYBOOK = os.environ.get("ANSIBLE_PLAYBOOK_BIN", "ansible-playbook")
GALAXY = os.path.join(os.path.dirname(PLAYBOOK), "ansible-galaxy") if os.sep in PLAYBOOK else "ansible-galaxy"


def prerequisite(why):
    """Under CI a missing prerequisite fails; elsewhere the test says skipped."""
    if os.environ.get("MEDIASAN_REQUIRE_ALL_TESTS") or os.environ.get("CI"):
        raise AssertionError("cannot run: " + why)
    raise unittest.SkipTest(why)


class Role(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.built = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.built.cleanup()

    def collections(self):
        """The collection built from this folder and installed where ansible-playbook looks, as a
        user installs a published one."""
        dest = os.path.join(self.built.name, "collections")
        if not os.path.isdir(os.path.join(dest, "ansible_collections", "mediasan", "fleet")):
            out = os.path.join(self.built.name, "dist")
            subprocess.run([GALAXY, "collection", "build", "--force", "--output-path", out, HERE],
                           check=True, capture_output=True)
            tarballs = [os.path.join(out, f) for f in os.listdir(out) if f.endswith(".tar.gz")]
            subprocess.run([GALAXY, "collection", "install", "--force", "-p", dest] + tarballs,
                           check=True, capture_output=True)
        return dest

    def setUp(self):
        if os.geteuid() != 0:
            prerequisite("loop devices need root")
        if not os.access(BINARY, os.X_OK):
            prerequisite("no mediasan binary at %s (cargo build first)" % BINARY)
        if subprocess.run(["sh", "-c", "command -v " + PLAYBOOK], capture_output=True).returncode:
            prerequisite("ansible-playbook is not installed (.ci/run installs ansible-core)")
        self.tmp = tempfile.TemporaryDirectory()
        self.loops = []

    def tearDown(self):
        for lo in self.loops:
            subprocess.run(["losetup", "-d", lo], check=False)
        self.tmp.cleanup()

    def loop(self, name, read_only=False):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(os.urandom(1 << 20))
        args = ["losetup", "--find", "--show"] + (["--read-only"] if read_only else []) + [path]
        lo = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()
        self.loops.append(lo)
        return lo

    def env(self):
        """ansible-playbook's environment: the role, no colours, mediasan's folders in the test's
        own, and nothing that would let mediasan make a key of its own."""
        d = self.tmp.name
        env = dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=self.collections(),
            ANSIBLE_HOST_KEY_CHECKING="False",
            ANSIBLE_NOCOLOR="1",
            XDG_CONFIG_HOME=os.path.join(d, "config"),
            XDG_STATE_HOME=os.path.join(d, "state"),
        )
        env.pop("MEDIASAN_CREATE_KEY", None)
        return env

    def play(self, inventory, env, *extra):
        proc = subprocess.run(
            # The async sanitize polled every second, not every minute: the tests' media are small.
            [PLAYBOOK, "-i", inventory, "--forks", "2", "-e", "mediasan_poll=1", *extra,
             os.path.join(HERE, "example-playbook.yml")],
            env=env,
            capture_output=True,
            text=True,
            cwd=HERE,
        )
        # The default output: per task, "changed: [h1]" / "ok: [h1]" / "fatal: [h2]"; the recap.
        tasks = {}
        for block in proc.stdout.split("TASK [")[1:]:
            name = block.split("]", 1)[0].split(" : ", 1)[-1]
            tasks[name] = block
        recap = {}
        for line in proc.stdout.split("PLAY RECAP")[-1].splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[1] == ":":
                recap[parts[0]] = dict(x.split("=") for x in parts[2:])
        return proc, tasks, recap

    def test_two_hosts_in_parallel_certificates_per_host_and_a_failure_stays_on_its_host(self):
        d = self.tmp.name
        key = os.path.join(d, "signing_key")
        subprocess.run([BINARY, "keygen", "--out", key], check=True, capture_output=True)
        h1 = [self.loop("a.img"), self.loop("b.img")]
        h2 = [self.loop("c.img"), self.loop("ro.img", read_only=True)]
        inv = os.path.join(d, "inventory")
        with open(inv, "w") as f:
            for host, devs in (("h1", h1), ("h2", h2)):
                f.write(
                    "%s ansible_connection=local ansible_python_interpreter=%s "
                    "mediasan_devices='%s' mediasan_binary_src=%s mediasan_binary=%s/%s/mediasan "
                    "mediasan_host_cert_dir=%s/%s/certs mediasan_certificates_dir=%s/fetched "
                    "mediasan_key=%s mediasan_extra_args='[\"--verify-percent\", \"5\"]'\n"
                    % (host, sys.executable, json.dumps(devs), BINARY, d, host, d, host, d, key)
                )
        env = self.env()
        proc, tasks, recap = self.play(inv, env)
        log = proc.stdout[-4000:] + proc.stderr[-2000:]
        self.assertEqual(recap["h1"]["failed"], "0", log)
        self.assertEqual(recap["h2"]["failed"], "1", log)
        self.assertNotEqual(proc.returncode, 0)
        fetched = sorted(os.listdir(os.path.join(d, "fetched", "h1")))
        self.assertEqual(len([f for f in fetched if f.endswith(".json") and f != "results.json"]), 2, fetched)
        self.assertEqual(len([f for f in fetched if f.endswith(".json.sig")]), 2, fetched)
        # The structured results, per host on the controller: one PASS per device on h1 with its
        # certificate id; h2 failed: its read-only device was refused (a signed refusal record,
        # FAIL, nothing written) while its other device was sanitized.
        with open(os.path.join(d, "fetched", "h1", "results.json")) as f:
            r1 = json.load(f)
        self.assertFalse(r1["failed"])
        self.assertEqual(sorted(x["device"] for x in r1["results"]), sorted(h1))
        self.assertTrue(all(x["result"] == "PASS" and x["certificate_id"] for x in r1["results"]), r1)
        seqs = [x["chain_seq"] for x in r1["results"]]
        self.assertTrue(all(isinstance(n, int) and n > 0 for n in seqs) and len(set(seqs)) == 2, r1)
        with open(os.path.join(d, "fetched", "h2", "results.json")) as f:
            r2 = json.load(f)
        self.assertTrue(r2["failed"])
        by_device = {x["device"]: x for x in r2["results"]}
        self.assertEqual(by_device[h2[0]]["result"], "PASS", r2)
        self.assertEqual(by_device[h2[1]]["result"], "FAIL", r2)
        self.assertIn("refused", " ".join(by_device[h2[1]]["reasons"]), r2)
        self.assertEqual(len([f for f in os.listdir(os.path.join(d, "fetched", "h2")) if f.endswith(".sig")]), 2)
        self.assertIn("changed: [h1]", tasks["Install the mediasan binary"])
        # Again: the install step changes nothing, and h1's devices, whose certificates still
        # verify against them, are left alone (hours saved on real drives).
        proc, tasks, recap = self.play(inv, env)
        self.assertIn("ok: [h1]", tasks["Install the mediasan binary"], proc.stdout[-3000:])
        self.assertIn("ok: [h1]", tasks["Sanitize the devices"], proc.stdout[-3000:])
        self.assertEqual(recap["h1"]["failed"], "0")
        with open(os.path.join(d, "fetched", "h1", "results.json")) as f:
            again = json.load(f)
        self.assertTrue(all(x["verified_again"] for x in again["results"]), again)
        self.assertEqual(
            sorted(x["certificate_id"] for x in again["results"]), sorted(x["certificate_id"] for x in r1["results"])
        )
        # Written since: that device is sanitized again; the other is still left alone.
        fd = os.open(h1[0], os.O_WRONLY)
        try:
            os.write(fd, b"new data" * 512)
            os.fsync(fd)
        finally:
            os.close(fd)
        proc, tasks, recap = self.play(inv, env)
        self.assertEqual(recap["h1"]["failed"], "0", proc.stdout[-3000:])
        with open(os.path.join(d, "fetched", "h1", "results.json")) as f:
            third = {x["device"]: x for x in json.load(f)["results"]}
        self.assertFalse(third[h1[0]]["verified_again"], third)
        self.assertTrue(third[h1[1]]["verified_again"], third)
        self.assertNotIn(third[h1[0]]["certificate_id"], [x["certificate_id"] for x in r1["results"]])
        # mediasan_force: everything again.
        with open(inv) as f:
            text = f.read()
        with open(inv, "w") as f:
            f.write(text.replace("mediasan_key=", "mediasan_force=true mediasan_key="))
        proc, tasks, recap = self.play(inv, env)
        with open(os.path.join(d, "fetched", "h1", "results.json")) as f:
            forced = json.load(f)["results"]
        self.assertFalse(any(x["verified_again"] for x in forced), forced)

    def test_two_hosts_each_with_its_own_key_certified_by_one_fleet_ca_audit_clean(self):
        """The fleet CA stays on the controller; each host makes its own key, which never leaves
        it; the auditor trusts one cert-authority line."""
        d = self.tmp.name
        ca = os.path.join(d, "controller", "fleet_ca")
        os.makedirs(os.path.dirname(ca))
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleet CA", "-f", ca], check=True)
        inv = os.path.join(d, "inventory")
        with open(inv, "w") as f:
            for host in ("h1", "h2"):
                f.write(
                    "%s ansible_connection=local ansible_python_interpreter=%s "
                    "mediasan_devices='%s' mediasan_binary_src=%s mediasan_binary=%s/%s/mediasan "
                    "mediasan_host_cert_dir=%s/%s/certs mediasan_certificates_dir=%s/fetched "
                    "mediasan_key=%s/%s/key/signing_key mediasan_ca_key=%s "
                    "mediasan_extra_args='[\"--verify-percent\", \"5\"]'\n"
                    % (host, sys.executable, json.dumps([self.loop(host + ".img")]), BINARY, d, host, d, host, d,
                       d, host, ca)
                )
        env = self.env()
        proc, tasks, recap = self.play(inv, env)
        log = proc.stdout[-4000:] + proc.stderr[-2000:]
        self.assertEqual(proc.returncode, 0, log)
        # Each host has its own key; the controller holds no private key but the CA's.
        fps = set()
        for host in ("h1", "h2"):
            key = os.path.join(d, host, "key", "signing_key")
            self.assertTrue(os.path.exists(key + "-cert.pub"), log)
            out = subprocess.run(["ssh-keygen", "-L", "-f", key + "-cert.pub"], capture_output=True, text=True).stdout
            self.assertIn("Key ID: \"%s\"" % host, out)
            self.assertIn("mediasan@fleet", out)
            fps.add(subprocess.run(["ssh-keygen", "-lf", key + ".pub"], capture_output=True, text=True).stdout.split()[1])
        self.assertEqual(len(fps), 2, "one key per host")
        fetched = os.path.join(d, "fetched")
        for root, _, files in os.walk(fetched):
            for name in files:
                with open(os.path.join(root, name), "rb") as fh:
                    self.assertNotIn(b"PRIVATE KEY", fh.read(), name)
        # The auditor's one line.
        with open(ca + ".pub") as fh:
            ca_pub = fh.read().strip()
        allowed = os.path.join(d, "allowed_signers")
        with open(allowed, "w") as fh:
            fh.write('mediasan@fleet cert-authority,namespaces="mediasan-certificate" %s\n' % ca_pub)
        audit = subprocess.run(
            [BINARY, "audit", fetched, "--allowed-signers", allowed], capture_output=True, text=True, env=env
        )
        self.assertEqual(audit.returncode, 0, audit.stdout + audit.stderr)
        self.assertIn("CLEAN: every medium", audit.stdout)
        self.assertIn("2 record(s) from trusted signers", audit.stdout)
        self.assertIn("mediasan@fleet", audit.stdout)
        # Without the CA line, not trusted.
        alone = os.path.join(d, "nobody")
        with open(alone, "w") as fh:
            fh.write("")
        audit = subprocess.run([BINARY, "audit", fetched, "--allowed-signers", alone], capture_output=True, text=True)
        self.assertNotEqual(audit.returncode, 0)

    def test_stop_holders_runs_first_in_an_async_task_and_its_refusal_fails_the_host(self):
        d = self.tmp.name
        key = os.path.join(d, "signing_key")
        subprocess.run([BINARY, "keygen", "--out", key], check=True, capture_output=True)
        devs = [self.loop("s1.img"), self.loop("s2.img")]
        calls = os.path.join(d, "calls")
        wrapper = os.path.join(d, "wrapper")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\necho "$*" >> "%s"\n[ -e "%s.refuse" ] && [ "$1" = stop-holders ] && '
                    '{ echo "mediasan: error: refusing to stop what holds $4: md0 also spans /dev/sdz" >&2; exit 3; }\n'
                    'exec "%s" "$@"\n' % (calls, calls, BINARY))
        os.chmod(wrapper, 0o755)
        inv = os.path.join(d, "inventory")
        with open(inv, "w") as f:
            f.write(
                "h1 ansible_connection=local ansible_python_interpreter=%s mediasan_devices='%s' "
                "mediasan_binary_src=%s mediasan_binary=%s/h1/mediasan mediasan_host_cert_dir=%s/h1/certs "
                "mediasan_certificates_dir=%s/fetched mediasan_key=%s mediasan_stop_holders=true "
                "mediasan_extra_args='[\"--verify-percent\", \"5\"]'\n"
                % (sys.executable, json.dumps(devs), wrapper, d, d, d, key)
            )
        env = self.env()
        proc, tasks, recap = self.play(inv, env, "-v")
        log = proc.stdout[-4000:] + proc.stderr[-2000:]
        self.assertEqual(recap["h1"]["failed"], "0", log)
        with open(calls) as f:
            lines = [line for line in f.read().splitlines() if line.split()[0] in ("stop-holders", "sanitize")]
        self.assertEqual([line.split()[0] for line in lines], ["stop-holders", "sanitize"], lines)
        self.assertTrue(lines[0].endswith(" ".join(devs)), lines)
        # The sanitize ran as an async job, polled.
        self.assertIn("ansible_job_id", tasks["Sanitize the devices"], log)
        # A refusal fails the host with mediasan's line and sanitizes nothing.
        os.remove(calls)
        open(calls + ".refuse", "w").close()
        proc, tasks, recap = self.play(inv, env, "-e", "mediasan_force=true")
        log = proc.stdout[-4000:] + proc.stderr[-2000:]
        self.assertEqual(recap["h1"]["failed"], "1", log)
        self.assertIn("also spans /dev/sdz", tasks["Sanitize the devices"], log)
        with open(calls) as f:
            self.assertNotIn("sanitize", [line.split()[0] for line in f.read().splitlines()])

    def test_check_mode_on_a_first_run_says_what_would_happen_and_missing_devices_fail(self):
        d = self.tmp.name
        inv = os.path.join(d, "inventory")
        common = "ansible_connection=local ansible_python_interpreter=%s" % sys.executable
        with open(inv, "w") as f:
            f.write(
                "h1 %s mediasan_devices='[\"/dev/disk/by-id/wwn-0x5000c500a1b2c3d4\"]' "
                "mediasan_binary_src=%s mediasan_binary=%s/h1/mediasan mediasan_key=%s/h1/key "
                "mediasan_certificates_dir=%s/fetched\n" % (common, BINARY, d, d, d)
            )
        env = self.env()
        # --check before anything is installed: green, and it says what would happen.
        proc, tasks, recap = self.play(inv, env, "--check", "-v")
        log = proc.stdout[-4000:] + proc.stderr[-2000:]
        self.assertEqual(proc.returncode, 0, log)
        self.assertIn("not installed yet", tasks["Sanitize the devices"], log)
        self.assertFalse(os.path.exists(os.path.join(d, "h1", "mediasan")), "check mode installed nothing")
        # An empty device list, and none at all: each host fails, saying why.
        with open(inv, "w") as f:
            f.write("h2 %s mediasan_devices='[]' mediasan_certificates_dir=%s/fetched\n" % (common, d))
            f.write("h3 %s mediasan_certificates_dir=%s/fetched\n" % (common, d))
        proc, tasks, recap = self.play(inv, env)
        log = proc.stdout[-4000:] + proc.stderr[-2000:]
        self.assertEqual(recap["h2"]["failed"], "1", log)
        self.assertEqual(recap["h3"]["failed"], "1", log)
        self.assertIn("mediasan_devices is empty", proc.stdout, log)
        self.assertIn("mediasan_devices", tasks.get("Validating arguments against arg spec 'main' - Sanitize block devices with mediasan and bring the signed certificates back", proc.stdout), log)


if __name__ == "__main__":
    unittest.main()
