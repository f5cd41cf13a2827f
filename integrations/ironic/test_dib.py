"""The diskimage-builder element (dib/mediasan): its extra-data.d script stages the binary, the
hardware manager's wheel and the organization file, refusing a private key; its install.d
script, run with chroot in a root made of busybox and an ironic-python-agent environment,
installs them so that IPA's entry-point lookup finds the manager."""

import glob
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BINARY = os.environ.get("MEDIASAN", os.path.join(ROOT, "target", "debug", "mediasan"))
ELEMENT = os.path.join(HERE, "dib", "mediasan")


def prerequisite(why):
    """Under CI a missing prerequisite fails; elsewhere the test says skipped."""
    if os.environ.get("MEDIASAN_REQUIRE_ALL_TESTS") or os.environ.get("CI"):
        raise AssertionError("cannot run: " + why)
    raise unittest.SkipTest(why)


class Element(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            prerequisite("chroot needs root")
        self.busybox = shutil.which("busybox")
        if not self.busybox:
            prerequisite("busybox is not installed (.ci/run installs busybox-static)")
        if not os.access(BINARY, os.X_OK):
            prerequisite("no mediasan binary at %s (cargo build first)" % BINARY)
        self.tmp = tempfile.TemporaryDirectory()
        d = self.tmp.name
        out = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", os.path.join(d, "dist"), HERE],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            prerequisite("cannot build the wheel: " + out.stderr.strip()[-300:])
        self.wheel = glob.glob(os.path.join(d, "dist", "mediasan_ipa-*.whl"))[0]

    def tearDown(self):
        self.tmp.cleanup()

    def image_root(self, with_ipa=True):
        """A root that busybox runs: sh and the applets the install script uses, and (maybe) an
        ironic-python-agent virtualenv's site-packages."""
        root = os.path.join(self.tmp.name, "root")
        os.makedirs(os.path.join(root, "bin"))
        os.makedirs(os.path.join(root, "tmp"))
        shutil.copy(self.busybox, os.path.join(root, "bin", "busybox"))
        # A dynamically linked busybox takes its libraries along (busybox-static needs none).
        libs = subprocess.run(["ldd", self.busybox], capture_output=True, text=True).stdout
        for lib in [w for w in libs.split() if w.startswith("/")]:
            dst = os.path.join(root, lib.lstrip("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(lib, dst)
        for applet in ("sh", "unzip", "mkdir", "cp", "chmod"):
            os.symlink("busybox", os.path.join(root, "bin", applet))
        site = os.path.join(root, "opt", "ironic-python-agent", "lib", "python3.11", "site-packages")
        if with_ipa:
            os.makedirs(os.path.join(site, "ironic_python_agent"))
        return root, site

    def stage(self, root, config=None):
        hooks = os.path.join(root, "tmp", "in_target.d")
        os.makedirs(hooks, exist_ok=True)
        env = dict(
            os.environ,
            DIB_MEDIASAN_BINARY=BINARY,
            DIB_MEDIASAN_IPA_WHEEL=self.wheel,
            TMP_HOOKS_PATH=hooks,
        )
        if config:
            env["DIB_MEDIASAN_CONFIG"] = config
        run = subprocess.run([os.path.join(ELEMENT, "extra-data.d", "50-mediasan")], env=env, capture_output=True, text=True)
        shutil.copytree(os.path.join(ELEMENT, "install.d"), os.path.join(hooks, "install.d"), dirs_exist_ok=True)
        return run

    def install(self, root):
        return subprocess.run(
            [shutil.which("chroot"), root, "/bin/sh", "/tmp/in_target.d/install.d/60-mediasan"],
            capture_output=True,
            text=True,
            env={"PATH": "/bin"},
        )

    def test_the_element_installs_the_binary_the_manager_and_the_organization_file(self):
        root, site = self.image_root()
        config = os.path.join(self.tmp.name, "mediasan.toml")
        with open(config, "w") as f:
            f.write('key = "/run/mediasan/signing_key"\n')
        staged = self.stage(root, config)
        self.assertEqual(staged.returncode, 0, staged.stderr)
        done = self.install(root)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        with open(BINARY, "rb") as a, open(os.path.join(root, "usr", "bin", "mediasan"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertTrue(os.access(os.path.join(root, "usr", "bin", "mediasan"), os.X_OK))
        with open(os.path.join(root, "etc", "mediasan", "mediasan.toml")) as f:
            self.assertIn("/run/mediasan/signing_key", f.read())
        self.assertTrue(os.path.isdir(os.path.join(root, "var", "log", "mediasan", "certificates")))
        # IPA finds its hardware managers by entry point: ours is there, in that environment.
        found = [
            ep
            for dist in importlib.metadata.distributions(path=[site])
            for ep in dist.entry_points
            if ep.group == "ironic_python_agent.hardware_managers"
        ]
        self.assertEqual([(ep.name, ep.value) for ep in found], [("mediasan", "mediasan_ipa:MediasanHardwareManager")])
        self.assertTrue(os.path.exists(os.path.join(site, "mediasan_ipa", "__init__.py")))

    def test_a_private_key_never_goes_into_the_image_and_an_image_without_ipa_is_refused(self):
        root, _ = self.image_root()
        leaked = os.path.join(self.tmp.name, "mediasan.toml")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", leaked], check=True)
        staged = self.stage(root, leaked)
        self.assertNotEqual(staged.returncode, 0)
        self.assertIn("private key", staged.stderr)
        self.assertFalse(os.path.exists(os.path.join(root, "tmp", "in_target.d", "mediasan")), "nothing staged")
        shutil.rmtree(root)
        root, _ = self.image_root(with_ipa=False)
        self.assertEqual(self.stage(root).returncode, 0)
        done = self.install(root)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("ironic-python-agent is not in this image", done.stderr)


if __name__ == "__main__":
    unittest.main()
