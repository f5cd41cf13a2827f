"""The plug-in inside ironic-python-agent (from PyPI, in the virtualenv .ci/run makes), driven
in-process as the agent drives it: the entry point is found, erase_block_device dispatched
through the managers on loop devices this test creates, the certificates in the log bundle
Ironic keeps, a device mediasan cannot handle failing the erase (or falling through only when
the node allows it), a certificate destination that refuses writes failing the step."""

import base64
import importlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("MEDIASAN", os.path.join(ROOT, "target", "debug", "mediasan"))


def prerequisite(why):
    """Under CI a missing prerequisite fails; elsewhere the test says skipped."""
    if os.environ.get("MEDIASAN_REQUIRE_ALL_TESTS") or os.environ.get("CI"):
        raise AssertionError("cannot run: " + why)
    raise unittest.SkipTest(why)


class Agent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            prerequisite("loop devices need root")
        if not os.access(BINARY, os.X_OK):
            prerequisite("no mediasan binary at %s (cargo build first)" % BINARY)
        try:
            from oslo_config import cfg
            from ironic_python_agent import config as ipa_config
        except ImportError:
            prerequisite("ironic-python-agent is not installed (.ci/run installs it in a virtualenv)")
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        # The ramdisk's key, as an image would name it for the agent (MEDIASAN_KEY).
        key = os.path.join(d, "ramdisk", "signing_key")
        subprocess.run([BINARY, "keygen", "--out", key], check=True, capture_output=True)
        os.environ.pop("MEDIASAN_CREATE_KEY", None)
        os.environ.update(
            MEDIASAN_KEY=key,
            MEDIASAN_BINARY=BINARY,
            MEDIASAN_CERT_DIR=os.path.join(d, "certs"),
            XDG_CONFIG_HOME=os.path.join(d, "config"),
            XDG_STATE_HOME=os.path.join(d, "state"),
        )
        ipa_config.populate_config()  # before importing hardware
        from ironic_python_agent import hardware

        cfg.CONF([], project="ironic-python-agent")
        import mediasan_ipa

        importlib.reload(mediasan_ipa)
        cls.hardware, cls.plugin = hardware, mediasan_ipa
        exts = hardware._get_extensions()
        mine = [e.obj for e in exts if e.name == "mediasan"]
        assert mine, "the entry point 'mediasan' is not registered: %s" % [e.name for e in exts]
        cls.mine = mine[0]
        gen = [e.obj for e in exts if e.name == "generic"][0]
        # The manager cache seeded directly (skips the generic manager's initialize()).
        hardware._global_managers = [
            {"name": "MediasanHardwareManager", "manager": cls.mine, "support": cls.mine.evaluate_hardware_support()},
            {"name": "GenericHardwareManager", "manager": gen, "support": 1},
        ]
        cls.loops = []

    @classmethod
    def tearDownClass(cls):
        for lo in getattr(cls, "loops", []):
            subprocess.run(["losetup", "-d", lo], check=False)
        if hasattr(cls, "tmp"):
            cls.tmp.cleanup()

    def loop(self, name, read_only=False):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(os.urandom(1 << 20))
        args = ["losetup", "--find", "--show"] + (["--read-only"] if read_only else []) + [path]
        lo = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()
        self.loops.append(lo)
        return lo

    def device(self, lo):
        return self.hardware.BlockDevice(name=lo, model="loop", size=1 << 20, rotational=False)

    def test_a_device_is_sanitized_through_the_dispatch_and_its_certificate_is_in_the_bundle(self):
        self.assertEqual(self.mine.evaluate_hardware_support(), self.hardware.HardwareSupport.SERVICE_PROVIDER)
        lo = self.loop("a.img")
        dest = os.path.join(self.tmp.name, "shipped")
        node = {"uuid": "n1", "driver_info": {"mediasan_cert_destination": dest}, "driver_internal_info": {}}
        out = self.hardware.dispatch_to_managers("erase_block_device", node=node, block_device=self.device(lo))
        self.assertEqual(out["result"], "PASS")
        self.assertTrue(out["certificates"][0])
        shipped = os.listdir(dest)
        self.assertTrue(any(f.endswith(".json.sig") for f in shipped), shipped)
        io_dict, files = {}, []
        self.hardware.dispatch_to_all_managers("collect_system_logs", io_dict, files)
        bundle = tarfile.open(fileobj=io.BytesIO(base64.b64decode(self.plugin_bundle(io_dict, files))))
        names = bundle.getnames()
        self.assertTrue(any(n.endswith(".json") and out["certificates"][0][:8] in n for n in names), names)
        steps = self.hardware.dispatch_to_all_managers("get_clean_steps", node, [])
        self.assertEqual(steps["MediasanHardwareManager"][0]["step"], "erase_devices_mediasan")
        self.assertEqual(steps["MediasanHardwareManager"][0]["priority"], 0)

    def plugin_bundle(self, io_dict, files):
        from ironic_python_agent import utils

        return utils.gzip_and_b64encode(io_dict=io_dict, file_list=files)

    def test_a_device_mediasan_cannot_handle_fails_unless_the_node_allows_falling_through(self):
        errors = importlib.import_module("ironic_python_agent.errors")
        gone = self.device(os.path.join(self.tmp.name, "no-such-disk"))
        node = {"uuid": "n2", "driver_info": {}}
        with self.assertRaises(errors.BlockDeviceEraseError):
            self.mine.erase_block_device(node, gone)
        node["driver_info"]["mediasan_allow_fallthrough"] = "true"
        with self.assertRaises(errors.IncompatibleHardwareMethodError):
            self.mine.erase_block_device(node, gone)

    def test_a_read_only_disk_is_skipped_only_when_the_conductor_allows_and_never_reported_erased(self):
        errors = importlib.import_module("ironic_python_agent.errors")
        ro = self.loop("ro.img", read_only=True)
        # Not allowed: the erase fails, also with fall-through allowed (never left to another
        # manager that would skip it and call it erased).
        for info in ({}, {"mediasan_allow_fallthrough": "true"}):
            node = {"uuid": "n2", "driver_info": info, "driver_internal_info": {}}
            with self.assertRaises(errors.BlockDeviceEraseError) as e:
                self.mine.erase_block_device(node, self.device(ro))
            self.assertIn("read-only", str(e.exception))
        node = {"uuid": "n2", "driver_info": {}, "driver_internal_info": {"agent_erase_skip_read_only": True}}
        out = self.mine.erase_block_device(node, self.device(ro))
        self.assertEqual(out["result"], "SKIPPED")
        self.assertEqual(out["certificates"], [])
        # The manual step: the writable disk erased, the read-only one SKIPPED, not erased.
        rw = self.loop("rw.img")
        out = self.mine.erase_devices_mediasan(node, [], verify_percent="5", devices=[rw, ro])
        self.assertEqual(out[rw]["result"], "PASS")
        self.assertEqual(out[ro]["result"], "SKIPPED")

    def test_the_manual_step_never_erases_a_disk_on_the_nodes_skip_list(self):
        keep, wipe = self.loop("keep.img"), self.loop("wipe.img")
        with open(os.path.join(self.tmp.name, "keep.img"), "rb") as f:
            before = f.read()
        node = {"uuid": "n9", "properties": {"skip_block_devices": [{"name": keep}]}, "driver_info": {}}
        with self.assertLogs("mediasan_ipa", level="WARNING") as logs:
            out = self.mine.erase_devices_mediasan(node, [], verify_percent="5", devices=[keep, wipe])
        self.assertEqual(sorted(out), [wipe])
        self.assertEqual(out[wipe]["result"], "PASS")
        with open(os.path.join(self.tmp.name, "keep.img"), "rb") as f:
            self.assertEqual(f.read(), before, "the skipped disk is untouched")
        self.assertTrue(any("skip_block_devices" in m for m in logs.output), logs.output)

    def test_a_missing_binary_fails_a_node_that_requires_mediasan_and_is_logged(self):
        errors = importlib.import_module("ironic_python_agent.errors")
        saved = os.environ["MEDIASAN_BINARY"]
        os.environ["MEDIASAN_BINARY"] = os.path.join(self.tmp.name, "not-installed")
        try:
            with self.assertLogs("mediasan_ipa", level="WARNING") as logs:
                self.assertEqual(
                    self.mine.evaluate_hardware_support(), self.hardware.HardwareSupport.SERVICE_PROVIDER
                )
            self.assertIn("not on PATH", " ".join(logs.output))
            lo = self.loop("m.img")
            with self.assertRaises(errors.BlockDeviceEraseError) as e:
                self.mine.erase_block_device({"uuid": "m", "driver_info": {"mediasan_required": "true"}}, self.device(lo))
            self.assertIn("not installed", str(e.exception))
            # Not required: left to the next manager, loudly.
            with self.assertLogs("mediasan_ipa", level="WARNING"):
                with self.assertRaises(errors.IncompatibleHardwareMethodError):
                    self.mine.erase_block_device({"uuid": "m", "driver_info": {}}, self.device(lo))
            # The manual step is mediasan's own: it fails.
            with self.assertRaises(errors.BlockDeviceEraseError):
                self.mine.erase_devices_mediasan({"uuid": "m"}, [], devices=[lo])
        finally:
            os.environ["MEDIASAN_BINARY"] = saved

    def wrapper(self, name, body):
        """A stand-in binary: a shell script around the real one."""
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        return path

    def test_a_pass_line_from_a_killed_process_or_a_missing_step_is_not_erased(self):
        errors = importlib.import_module("ironic_python_agent.errors")
        saved = os.environ["MEDIASAN_BINARY"]
        try:
            # The real run printed its PASS, then the process was killed (137).
            os.environ["MEDIASAN_BINARY"] = self.wrapper("killed", '"%s" "$@"; exit 137\n' % BINARY)
            with self.assertRaises(errors.BlockDeviceEraseError) as e:
                self.mine.erase_block_device({"uuid": "k"}, self.device(self.loop("k1.img")))
            self.assertIn("exited 137", str(e.exception))
            # A plan of two steps with one certificate, exit 0: the second step never ran.
            lo = self.loop("k2.img")
            plan = json.dumps({"event": "sanitize_plan", "target": lo, "steps": [{}, {}], "dry_run": False})
            os.environ["MEDIASAN_BINARY"] = self.wrapper(
                "onestep", "echo '%s'; \"%s\" \"$@\" | grep -v sanitize_plan\n" % (plan, BINARY)
            )
            with self.assertRaises(errors.BlockDeviceEraseError) as e:
                self.mine.erase_block_device({"uuid": "k"}, self.device(lo))
            self.assertIn("1 of 2 step(s)", str(e.exception))
        finally:
            os.environ["MEDIASAN_BINARY"] = saved

    def test_verify_percent_zero_is_not_taken_for_unset(self):
        errors = importlib.import_module("ironic_python_agent.errors")
        with self.assertRaises(errors.BlockDeviceEraseError) as e:
            self.mine.erase_devices_mediasan({"uuid": "z"}, [], verify_percent=0, devices=[self.loop("z.img")])
        self.assertIn("verify-percent", str(e.exception))

    def test_a_failing_drive_fails_the_erase_with_the_certificates_reasons(self):
        # A loop device over the project's FUSE fault harness: writes to its first 64 KiB fail.
        d = tempfile.mkdtemp(dir=self.tmp.name)
        backing, mnt = os.path.join(d, "backing.img"), os.path.join(d, "mnt")
        with open(backing, "wb") as f:
            f.write(b"\x33" * (1 << 20))
        os.mkdir(mnt)
        fs = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(ROOT, "tests", "faultfs.py"), backing, mnt, "--fail-write", "0:65536"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        lo = None
        try:
            disk = os.path.join(mnt, "disk.img")
            for _ in range(200):
                if os.path.exists(disk):
                    break
                import time

                time.sleep(0.05)
            else:
                prerequisite("the FUSE fault harness did not mount (python3-fusepy, /dev/fuse)")
            lo = subprocess.run(
                ["losetup", "--find", "--show", "--direct-io=on", disk], check=True, capture_output=True, text=True
            ).stdout.strip()
            errors = importlib.import_module("ironic_python_agent.errors")
            with self.assertRaises(errors.BlockDeviceEraseError) as e:
                self.mine.erase_block_device({"uuid": "n5", "driver_info": {}}, self.device(lo))
            msg = str(e.exception)
            self.assertIn("FAIL", msg)
            self.assertIn("write failed", msg)
        finally:
            if lo:
                subprocess.run(["losetup", "-d", lo], check=False)
            subprocess.run(["umount", "-l", mnt], check=False)
            fs.kill()
            fs.wait()

    def test_certificates_are_shipped_by_http_put(self):
        import http.server
        import threading

        got = {}

        class Put(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                got[self.path] = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Put)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            url = "http://127.0.0.1:%d/bucket/node6" % srv.server_port
            out = self.mine.erase_devices_mediasan(
                {"uuid": "n6"}, [], cert_destination=url, devices=[self.loop("h.img")]
            )
        finally:
            srv.shutdown()
            srv.server_close()
        cert = [k for k in got if k.endswith(".json")]
        self.assertEqual(len(cert), 1, got.keys())
        self.assertTrue(cert[0].startswith("/bucket/node6/"))
        self.assertIn(list(out.values())[0]["certificates"][0], got[cert[0]].decode())
        self.assertTrue(any(k.endswith(".json.sig") for k in got), "the signature too")

    def test_certificates_go_to_an_https_endpoint_with_a_token_and_the_token_is_never_shown(self):
        import http.server
        import ssl
        import threading

        errors = importlib.import_module("ironic_python_agent.errors")
        d = tempfile.mkdtemp(dir=self.tmp.name)
        key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True,
            capture_output=True,
        )
        got = {}

        class Put(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Authorization") != "Bearer s3cret-t0ken":
                    self.send_response(401)
                else:
                    got[self.path] = body
                    self.send_response(201)
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Put)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = "https://127.0.0.1:%d/bucket/n10?acl=private" % srv.server_port
        info = {
            "mediasan_cert_destination": url,
            "mediasan_cert_destination_token": "s3cret-t0ken",
            "mediasan_cert_destination_ca": crt,
        }
        try:
            out = self.mine.erase_block_device({"uuid": "n10", "driver_info": info}, self.device(self.loop("t1.img")))
            self.assertEqual(out["result"], "PASS")
            sent = [k for k in got if k.split("?")[0].endswith(".json")]
            self.assertEqual(len(sent), 1, got.keys())
            self.assertTrue(sent[0].startswith("/bucket/n10/") and sent[0].endswith("?acl=private"), sent)
            # A wrong token or no CA bundle: the erase fails, the token and the query never shown.
            for i, bad in enumerate(({"mediasan_cert_destination_token": "wr0ng-t0ken"}, {"mediasan_cert_destination_ca": ""})):
                with self.assertRaises(errors.BlockDeviceEraseError) as e:
                    self.mine.erase_block_device(
                        {"uuid": "n10", "driver_info": dict(info, **bad)}, self.device(self.loop("t2-%d.img" % i))
                    )
                msg = str(e.exception)
                self.assertIn("could not be shipped", msg)
                self.assertNotIn("t0ken", msg)
                self.assertNotIn("acl=private", msg)
        finally:
            srv.shutdown()
            srv.server_close()

    def test_the_manual_step_sanitizes_all_at_once_and_a_refused_destination_fails_it(self):
        a, b = self.loop("s1.img"), self.loop("s2.img")
        out = self.mine.erase_devices_mediasan({"uuid": "n3"}, [], verify_percent="5", devices=[a, b])
        self.assertEqual(sorted(out), sorted([a, b]))
        self.assertTrue(all(v["result"] == "PASS" for v in out.values()))
        errors = importlib.import_module("ironic_python_agent.errors")
        blocker = os.path.join(self.tmp.name, "a-file")
        open(blocker, "w").close()
        with self.assertRaises(errors.BlockDeviceEraseError) as e:
            self.mine.erase_devices_mediasan(
                {"uuid": "n4"}, [], cert_destination=os.path.join(blocker, "sub"), devices=[self.loop("s3.img")]
            )
        self.assertIn("could not be shipped", str(e.exception))

    def test_without_a_key_the_erase_fails_unless_the_node_allows_a_new_one(self):
        errors = importlib.import_module("ironic_python_agent.errors")
        lo = self.loop("k.img")
        saved = os.environ.pop("MEDIASAN_KEY")
        try:
            with self.assertRaises(errors.BlockDeviceEraseError) as e:
                self.mine.erase_block_device({"uuid": "n7", "driver_info": {}}, self.device(lo))
            self.assertIn("no signing key is configured", str(e.exception))
            node = {"uuid": "n7", "driver_info": {"mediasan_allow_new_key": "true"}}
            out = self.mine.erase_block_device(node, self.device(lo))
            self.assertEqual(out["result"], "PASS")
        finally:
            os.environ["MEDIASAN_KEY"] = saved

    def test_the_certificate_names_the_node_and_a_key_from_driver_info_signs(self):
        key = os.path.join(self.tmp.name, "node8", "signing_key")
        subprocess.run([BINARY, "keygen", "--out", key], check=True, capture_output=True)
        node = {"uuid": "1be26c0b-0000-4000-8000-000000000008", "driver_info": {"mediasan_key": key}}
        out = self.mine.erase_block_device(node, self.device(self.loop("n8.img")))
        cert_id = out["certificates"][0]
        cert = [f for f in os.listdir(self.plugin.CERT_DIR) if cert_id[:8] in f and f.endswith(".json")][0]
        path = os.path.join(self.plugin.CERT_DIR, cert)
        with open(path) as fh:
            doc = json.load(fh)
        self.assertEqual(doc["host"]["node"], {"ironic_node": node["uuid"]})
        self.assertEqual(out["series"], ["%s#%d" % (doc["chain"]["id"], doc["chain"]["seq"])])
        check = subprocess.run(
            [BINARY, "cert", "verify", path, "--pubkey", key + ".pub"], capture_output=True, text=True
        )
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_stop_holders_runs_first_over_the_disks_being_erased_and_its_refusal_fails_the_erase(self):
        errors = importlib.import_module("ironic_python_agent.errors")
        calls = os.path.join(self.tmp.name, "calls.log")
        saved = os.environ["MEDIASAN_BINARY"]
        a, b = self.loop("h1.img"), self.loop("h2.img")
        node = {"uuid": "h", "driver_info": {"mediasan_stop_holders": "true"}}
        try:
            # The real binary, each call logged: stop-holders over the step's disks, then sanitize.
            os.environ["MEDIASAN_BINARY"] = self.wrapper(
                "logged", 'echo "$1 $*" >> "%s"; exec "%s" "$@"\n' % (calls, BINARY)
            )
            out = self.mine.erase_devices_mediasan(node, [], verify_percent="5", devices=[a, b])
            self.assertTrue(all(v["result"] == "PASS" for v in out.values()), out)
            with open(calls) as f:
                log = f.read().splitlines()
            self.assertEqual([line.split()[0] for line in log], ["stop-holders", "sanitize"])
            self.assertTrue(log[0].endswith(" %s %s" % (a, b)), log[0])
            # Per device (automated cleaning): every disk IPA would erase is named, so an array
            # over this disk and another one being erased can be stopped.
            os.remove(calls)
            listed = [self.device(a), self.device(b)]
            real = self.hardware.dispatch_to_managers

            def dispatch(method, *args, **kwargs):
                if method == "list_block_devices_check_skip_list":
                    return listed
                return real(method, *args, **kwargs)

            self.hardware.dispatch_to_managers = dispatch
            try:
                out = self.mine.erase_block_device(node, self.device(a))
            finally:
                self.hardware.dispatch_to_managers = real
            self.assertEqual(out["result"], "PASS")
            with open(calls) as f:
                log = f.read().splitlines()
            self.assertTrue(log[0].startswith("stop-holders") and log[0].endswith(" %s %s" % (a, b)), log)
            # A refusal (an array that spans a disk not being erased) fails the erase with
            # mediasan's line, before anything is erased.
            os.remove(calls)
            refusal = "mediasan: error: refusing to stop what holds %s: md0 (RAID (raid1)) also spans /dev/sdz" % a
            os.environ["MEDIASAN_BINARY"] = self.wrapper(
                "refuses",
                'echo "$1" >> "%s"; [ "$1" = stop-holders ] && { echo "%s" >&2; exit 3; }; exec "%s" "$@"\n'
                % (calls, refusal, BINARY),
            )
            with self.assertRaises(errors.BlockDeviceEraseError) as e:
                self.mine.erase_devices_mediasan(node, [], devices=[a])
            self.assertIn("also spans /dev/sdz", str(e.exception))
            with open(calls) as f:
                self.assertEqual(f.read().split(), ["stop-holders"])
            # Not asked for: never run.
            os.remove(calls)
            self.mine.erase_devices_mediasan({"uuid": "h2"}, [], verify_percent="5", devices=[b])
            with open(calls) as f:
                self.assertEqual(f.read().split(), ["sanitize"])
        finally:
            os.environ["MEDIASAN_BINARY"] = saved


if __name__ == "__main__":
    unittest.main()
