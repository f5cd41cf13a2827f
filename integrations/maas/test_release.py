"""Contract test of the MAAS release script: run it as MAAS would (RESULT_PATH, DOWNLOAD_PATH,
the output paths) against loop devices this test creates, and check the result YAML against
MAAS's rules (scriptresult.read_results: a dict, status in passed/failed/degraded/timedout/
skipped, results mapping str to a scalar or a list of scalars)."""

import importlib.util
import json
import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(HERE, "50-mediasan-release.py")
BINARY = os.environ.get("MEDIASAN", os.path.join(ROOT, "target", "debug", "mediasan"))


def prerequisite(why):
    """Under CI a missing prerequisite fails; elsewhere the test says skipped."""
    if os.environ.get("MEDIASAN_REQUIRE_ALL_TESTS") or os.environ.get("CI"):
        raise AssertionError("cannot run: " + why)
    raise unittest.SkipTest(why)


def check_maas_rules(doc):
    assert isinstance(doc, dict), doc
    assert doc["status"] in ("passed", "failed", "degraded", "timedout", "skipped"), doc
    for k, v in doc["results"].items():
        assert isinstance(k, str), k
        # MAAS's read_results takes str, int, float and bool, never None.
        scalars = (str, int, float, bool)
        assert isinstance(v, scalars) or (isinstance(v, list) and all(isinstance(x, scalars) for x in v)), (k, v)


def maas_parameter_errors(parameters):
    """MAAS's own checks of a script's parameters (maasserver/forms/parameters.py,
    ParametersForm.clean_parameters), written out here: the errors MAAS would refuse the
    upload with."""
    errors = []
    for name, f in parameters.items():
        kind, required, choices = f.get("type"), f.get("required", True), f.get("choices")
        for field, types in (("title", str), ("description", str), ("argument_format", str), ("default", str)):
            if f.get(field) is not None and not isinstance(f[field], types):
                errors.append("%s: %s must be a string" % (name, field))
        if not isinstance(required, bool):
            errors.append("%s: required must be a boolean" % name)
        if choices is not None:
            if not isinstance(choices, list):
                errors.append("%s: choices must be a list" % name)
            elif any(isinstance(c, list) and (len(c) != 2 or not all(isinstance(x, str) for x in c)) for c in choices):
                errors.append("%s: choice must be a Django choice or string" % name)
            if kind != "choice":
                errors.append("%s: choices only supported with the choice type" % name)
        if kind == "choice" and not choices:
            errors.append("%s: choices must be given with a choice type" % name)
        if kind not in ("storage", "interface", "url", "runtime", "string", "password", "choice") and required:
            errors.append("%s: type must be storage, interface, url, runtime, string, password or choice" % name)
        fmt = f.get("argument_format")
        if isinstance(fmt, str):
            if kind == "storage":
                ok = any(x in fmt for x in ("{input}", "{name}", "{path}", "{model}", "{serial}"))
            elif kind == "interface":
                ok = any(x in fmt for x in ("{input}", "{name}", "{mac}", "{vendor}", "{product}"))
            else:
                ok = "{input}" in fmt
            if not ok:
                errors.append("%s: argument_format lacks its placeholder" % name)
        if kind == "choice" and choices and isinstance(f.get("default"), str):
            values = [c[0] if isinstance(c, list) else c for c in choices]
            if f["default"] not in values:
                errors.append("%s: the default is not one of the choices" % name)
    return errors


class Release(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            prerequisite("loop devices need root")
        if not os.access(BINARY, os.X_OK):
            prerequisite("no mediasan binary at %s (cargo build first)" % BINARY)
        self.tmp = tempfile.TemporaryDirectory()
        self.loops = []

    def tearDown(self):
        for lo in self.loops:
            subprocess.run(["losetup", "-d", lo], check=False)
        self.tmp.cleanup()

    def loop(self, name, size, read_only=False):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        args = ["losetup", "--find", "--show"] + (["--read-only"] if read_only else []) + [path]
        lo = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()
        self.loops.append(lo)
        return lo

    def release(self, disks, *extra):
        d = self.tmp.name
        env = dict(
            os.environ,
            MEDIASAN=BINARY,
            MEDIASAN_DISKS=",".join(disks),
            RESULT_PATH=os.path.join(d, "result.yaml"),
            DOWNLOAD_PATH=os.path.join(d, "download"),
            OUTPUT_STDOUT_PATH=os.path.join(d, "out"),
            OUTPUT_STDERR_PATH=os.path.join(d, "err"),
            OUTPUT_COMBINED_PATH=os.path.join(d, "combined"),
            XDG_CONFIG_HOME=os.path.join(d, "config"),
            XDG_STATE_HOME=os.path.join(d, "state"),
        )
        for name in ("MEDIASAN_KEY", "MEDIASAN_CREATE_KEY"):
            env.pop(name, None)
        # A result from an earlier run must never be read as this one's.
        if os.path.exists(env["RESULT_PATH"]):
            os.remove(env["RESULT_PATH"])
        proc = subprocess.run(["python3", SCRIPT, *extra], env=env, capture_output=True, text=True)
        with open(os.path.join(d, "result.yaml")) as f:
            doc = json.load(f)
        check_maas_rules(doc)
        return proc, doc

    def key(self):
        key = os.path.join(self.tmp.name, "machine", "signing_key")
        if not os.path.exists(key):
            subprocess.run([BINARY, "keygen", "--out", key], check=True, capture_output=True)
        return key

    def test_every_disk_sanitized_and_certified_is_passed(self):
        a, b = self.loop("a.img", 2 << 20), self.loop("b.img", 2 << 20)
        key = self.key()
        proc, doc = self.release([a, b], "--policy=nist-decommission", "--verify-percent=5", "--key=" + key)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(doc["status"], "passed")
        for lo in (a, b):
            self.assertTrue(doc["results"][lo][0].startswith("PASS "), doc)
        # The certificates and their signatures are in the output MAAS keeps.
        self.assertEqual(proc.stdout.count('"result": "PASS"'), 2, proc.stdout[:500])
        self.assertEqual(proc.stdout.count("BEGIN SSH SIGNATURE"), 2)
        folder = os.path.join(self.tmp.name, "download", "certificates")
        certs = sorted(c for c in os.listdir(folder) if c.endswith(".json"))
        self.assertEqual(len(certs), 2, certs)
        # The series' last number, kept by MAAS.
        self.assertEqual(len(doc["results"]["mediasan_series"]), 1, doc)
        self.assertTrue(doc["results"]["mediasan_series"][0].endswith("#2"), doc)
        # Signed by the key the parameter named.
        check = subprocess.run(
            [BINARY, "cert", "verify", os.path.join(folder, certs[0]), "--pubkey", key + ".pub"],
            capture_output=True,
            text=True,
        )
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_without_a_key_no_disk_is_touched_unless_a_new_key_is_allowed(self):
        a = self.loop("a.img", 1 << 20)
        with open(os.path.join(self.tmp.name, "a.img"), "rb") as f:
            before = f.read()
        proc, doc = self.release([a])
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(doc["status"], "failed")
        self.assertIn("no signing key is configured", doc["results"][a], doc)
        self.assertEqual(doc["results"]["mediasan_exit"], 2)
        with open(os.path.join(self.tmp.name, "a.img"), "rb") as f:
            self.assertEqual(f.read(), before, "nothing written")
        proc, doc = self.release([a], "--allow-new-key=true")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("created signing key", proc.stderr)

    def test_a_disk_that_cannot_be_sanitized_is_never_passed(self):
        good, ro = self.loop("a.img", 1 << 20), self.loop("ro.img", 1 << 20, read_only=True)
        proc, doc = self.release([good, ro], "--key=" + self.key())
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(doc["status"], "failed")
        # The refused disk gets its own signed refusal record (FAIL, nothing written); the
        # other disk is sanitized all the same.
        self.assertTrue(doc["results"][ro][0].startswith("FAIL"), doc)
        self.assertIn("refused", doc["results"][ro][0])
        self.assertTrue(doc["results"][good][0].startswith("PASS"), doc)
        self.assertEqual(doc["results"]["mediasan_exit"], 3)

    def test_a_read_only_disk_fails_the_release_unless_skipping_is_allowed_and_is_never_passed(self):
        good, ro = self.loop("a.img", 1 << 20), self.loop("ro.img", 1 << 20, read_only=True)
        proc, doc = self.release([good, ro], "--key=" + self.key(), "--skip-read-only=true")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(doc["status"], "passed")
        self.assertTrue(doc["results"][ro].startswith("SKIPPED"), doc)
        self.assertTrue(doc["results"][good][0].startswith("PASS"), doc)

    def test_a_missing_binary_is_a_failed_result_not_a_traceback(self):
        a = self.loop("a.img", 1 << 20)
        proc, doc = self.release([a], "--mediasan=" + os.path.join(self.tmp.name, "not-installed"))
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(doc["status"], "failed")
        self.assertIn("not installed", doc["results"]["error"])
        self.assertNotIn("Traceback", proc.stderr)

    def test_outside_maas_it_refuses(self):
        env = dict(os.environ, MEDIASAN=BINARY)
        env.pop("RESULT_PATH", None)
        proc = subprocess.run(["python3", SCRIPT], env=env, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("not run by MAAS", proc.stderr)

    def wrapper(self, name, body):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        return path

    def test_stop_holders_runs_first_and_its_refusal_erases_nothing(self):
        a, b = self.loop("a.img", 1 << 20), self.loop("b.img", 1 << 20)
        calls = os.path.join(self.tmp.name, "calls")
        logged = self.wrapper("logged", 'echo "$*" >> "%s"; exec "%s" "$@"\n' % (calls, BINARY))
        proc, doc = self.release([a, b], "--key=" + self.key(), "--stop-holders=true", "--mediasan=" + logged)
        self.assertEqual(doc["status"], "passed", proc.stderr)
        with open(calls) as f:
            log = f.read().splitlines()
        self.assertEqual([line.split()[0] for line in log], ["stop-holders", "sanitize"])
        self.assertTrue(log[0].endswith("%s %s" % (a, b)), log)
        os.remove(calls)
        why = "mediasan: error: refusing to stop what holds %s: md0 (RAID (raid1)) also spans /dev/sdz" % a
        refuses = self.wrapper(
            "refuses",
            'echo "$1" >> "%s"; [ "$1" = stop-holders ] && { echo "%s" >&2; exit 3; }; exec "%s" "$@"\n'
            % (calls, why, BINARY),
        )
        proc, doc = self.release([a, b], "--key=" + self.key(), "--stop-holders=true", "--mediasan=" + refuses)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(doc["status"], "failed")
        for d in (a, b):
            self.assertIn("also spans /dev/sdz", doc["results"][d], doc)
        self.assertEqual(doc["results"]["mediasan_exit"], 3)
        with open(calls) as f:
            self.assertEqual(f.read().split(), ["stop-holders"])

    def test_results_are_keyed_by_the_disks_maas_name(self):
        spec = importlib.util.spec_from_file_location("release", SCRIPT)
        release = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(release)
        events = [
            {"event": "result", "target": "/dev/sda", "result": "PASS", "id": "c1", "reasons": []},
            {"event": "result", "target": "/dev/loop3", "result": "FAIL", "id": "c2", "reasons": ["short"]},
        ]
        doc = release.summarize(
            ["/dev/sda", "/dev/loop3"], 1, events, "", ["/dev/sdb"],
            {"/dev/sda": "SAMSUNG MZ7LH960:S45NNA0M1", "/dev/sdb": "ST4000NM:ZC1"},
        )
        check_maas_rules(doc)
        self.assertEqual(doc["results"]["SAMSUNG MZ7LH960:S45NNA0M1"], ["device /dev/sda", "PASS c1"])
        self.assertEqual(doc["results"]["ST4000NM:ZC1"][0], "device /dev/sdb")
        self.assertTrue(doc["results"]["ST4000NM:ZC1"][1].startswith("SKIPPED"))
        self.assertEqual(doc["results"]["/dev/loop3"], ["FAIL c2: short"])
        self.assertEqual(doc["status"], "failed")

    def test_the_metadata_header_is_what_maas_parses(self):
        with open(SCRIPT) as f:
            text = f.read()
        head = text.split("# --- Start MAAS 1.0 script metadata ---\n")[1].split("# --- End MAAS 1.0 script metadata ---")[0]
        lines = [l[2:] for l in head.splitlines()]
        self.assertIn("script_type: release", lines)
        self.assertIn("name: 50-mediasan-release", lines)
        try:
            import yaml
        except ImportError:
            prerequisite("PyYAML is not installed (python3-yaml; .ci/run installs it)")
        meta = yaml.safe_load("\n".join(lines))
        self.assertEqual(meta["name"], "50-mediasan-release")
        self.assertEqual(maas_parameter_errors(meta["parameters"]), [])
        # The rules bite: what an earlier header had (a string-typed flag without a default that
        # is a string, choices on a string) is refused.
        self.assertEqual(
            len(maas_parameter_errors({"x": {"type": "boolean", "default": False, "argument_format": "--x"}})), 3
        )
        self.assertTrue(maas_parameter_errors({"y": {"type": "string", "choices": ["a"], "argument_format": "{input}"}}))
        self.assertTrue(maas_parameter_errors({"z": {"type": "choice", "argument_format": "--z={input}"}}))


if __name__ == "__main__":
    unittest.main()
