#!/usr/bin/python3
"""A FUSE filesystem with one file, disk.img, backed by a real file, whose reads and writes
fail with EIO on chosen byte ranges. Put a loop device on it (losetup --direct-io=on) and the
kernel's block layer returns real I/O errors for those ranges: the test harness for failing
drives (tests/faults.rs). No device-mapper needed.

usage: faultfs.py BACKING MOUNTPOINT [--fail-write START:END[:once]]... [--fail-read START:END[:once]]...
       [--delay-ms N] [--control FILE]
A range [START, END) in bytes fails every time, or with :once only on its first access. With
--control, the file is re-read before each operation: lines "write START END [once]" /
"read START END [once]" replace the faults (so a test can break a drive mid-run). --delay-ms
(or a control line "delay N") makes every write take N ms longer: a crawling drive. Debian's
python3-fusepy; root mounts without fusermount.
"""
import errno
import os
import stat
import sys
import threading
import time

try:
    from fuse import FUSE, FuseOSError, Operations  # pip's fusepy
except ImportError:
    from fusepy import FUSE, FuseOSError, Operations  # Debian's python3-fusepy

NAME = "/disk.img"


class Faults:
    def __init__(self, specs):
        self.lock = threading.Lock()
        self.ranges = specs  # list of [kind, start, end, once, used]
        self.delay_ms = 0
        self.control = None
        self.control_mtime = None

    def reload(self):
        if not self.control:
            return
        try:
            m = os.stat(self.control).st_mtime_ns
        except FileNotFoundError:
            return
        if m == self.control_mtime:
            return
        self.control_mtime = m
        new = []
        with open(self.control) as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and p[0] == "delay":
                    self.delay_ms = int(p[1])
                elif len(p) >= 3:
                    new.append([p[0], int(p[1]), int(p[2]), len(p) > 3 and p[3] == "once", False])
        self.ranges = new

    def hit(self, kind, off, size):
        with self.lock:
            self.reload()
            for r in self.ranges:
                k, s, e, once, used = r
                if k == kind and off < e and off + size > s and not (once and used):
                    r[4] = True
                    return True
        return False


class FaultFS(Operations):
    def __init__(self, backing, faults):
        self.backing = backing
        self.faults = faults
        self.fd = os.open(backing, os.O_RDWR)

    def getattr(self, path, fh=None):
        now = time.time()
        if path == "/":
            return dict(st_mode=stat.S_IFDIR | 0o755, st_nlink=2, st_ctime=now, st_mtime=now, st_atime=now)
        if path == NAME:
            size = os.fstat(self.fd).st_size
            return dict(st_mode=stat.S_IFREG | 0o644, st_nlink=1, st_size=size, st_ctime=now, st_mtime=now,
                        st_atime=now, st_blocks=(size + 511) // 512)
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", "..", NAME[1:]]

    def open(self, path, flags):
        if path != NAME:
            raise FuseOSError(errno.ENOENT)
        return 0

    def read(self, path, size, offset, fh):
        if self.faults.hit("read", offset, size):
            raise FuseOSError(errno.EIO)
        return os.pread(self.fd, size, offset)

    def write(self, path, data, offset, fh):
        self.faults.hit("none", 0, 0)  # re-reads the control file
        if self.faults.delay_ms:
            time.sleep(self.faults.delay_ms / 1000)
        if self.faults.hit("write", offset, len(data)):
            raise FuseOSError(errno.EIO)
        return os.pwrite(self.fd, data, offset)

    def truncate(self, path, length, fh=None):
        os.ftruncate(self.fd, length)

    def flush(self, path, fh):
        return 0

    def fsync(self, path, datasync, fh):
        os.fsync(self.fd)
        return 0


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    backing, mnt = argv[1], argv[2]
    specs, control, delay = [], None, 0
    i = 3
    while i < len(argv):
        if argv[i] in ("--fail-write", "--fail-read"):
            p = argv[i + 1].split(":")
            specs.append(["write" if argv[i] == "--fail-write" else "read", int(p[0]), int(p[1]),
                          len(p) > 2 and p[2] == "once", False])
            i += 2
        elif argv[i] == "--delay-ms":
            delay = int(argv[i + 1])
            i += 2
        elif argv[i] == "--control":
            control = argv[i + 1]
            i += 2
        else:
            print(f"unknown argument {argv[i]}", file=sys.stderr)
            return 2
    faults = Faults(specs)
    faults.control = control
    faults.delay_ms = delay
    FUSE(FaultFS(backing, faults), mnt, foreground=True, nothreads=False, direct_io=True, allow_other=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
