"""A private sshd on 127.0.0.1 for sshfs tests.

    with Sshd() as d:                       # logs in as the current user
        argv = d.sshfs_argv("/some/dir", "/mnt/point")
    with Sshd(user="fbtest") as d: ...      # root's sshd, login as fbtest

Everything lives in one temporary directory: a host key, a client key
whose public half is the only authorized key, sshd_config and sshd's log
(sshd -e writes it to stderr; it is kept for error messages). sshd runs
in the foreground (-D) on a free port and is killed by stop().

Run by root, sshd accepts the key for any local account given as `user`
(PermitRootLogin allows keys), and /run/sshd, its privilege separation
directory, is created when missing. Run by an unprivileged user, sshd can
only log in that same user, so `user` must be left out.

With UsePAM no, sshd refuses an account whose shadow password starts with
"!" (locked: what useradd leaves); give it "*" (usermod -p '*' USER).
"""
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import time

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"


def missing():
    """None if sshd, ssh, ssh-keygen and sshfs are installed, else what
    is missing (a message for pytest.skip)."""
    lack = [p for p in ("ssh", SSH_KEYGEN, "sshfs") if not shutil.which(p)]
    if not os.access(SSHD, os.X_OK):
        lack.insert(0, SSHD)
    return f"not installed: {', '.join(lack)}" if lack else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SshdError(RuntimeError):
    pass


class Sshd:
    def __init__(self, user=None, startup_timeout=10.0):
        self.user = user or pwd.getpwuid(os.geteuid()).pw_name
        self.pw = pwd.getpwnam(self.user)
        if self.pw.pw_uid != os.geteuid() and os.geteuid() != 0:
            raise SshdError(f"only root's sshd can log in {self.user}")
        self.startup_timeout = startup_timeout
        self.dir = None
        self.proc = None
        self.port = None

    # -- files -------------------------------------------------------------

    def _keygen(self, path, comment):
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "",
                        "-C", comment, "-f", path], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True)

    def _write_files(self):
        self.dir = tempfile.mkdtemp(prefix="fbsshd-")
        # The login user's ssh reads the identity from here.
        os.chmod(self.dir, 0o755)
        self.host_key = os.path.join(self.dir, "host_ed25519")
        self.identity = os.path.join(self.dir, "id_ed25519")
        self.authorized = os.path.join(self.dir, "authorized_keys")
        self.config = os.path.join(self.dir, "sshd_config")
        self.log = os.path.join(self.dir, "sshd.log")
        self._keygen(self.host_key, "fusebox-test-host")
        self._keygen(self.identity, "fusebox-test-client")
        shutil.copyfile(self.identity + ".pub", self.authorized)
        os.chmod(self.authorized, 0o644)
        # ssh refuses a key its owner lets others read; owned by the login
        # user (0600), it is accepted whoever runs sshfs with it.
        if os.geteuid() == 0:
            os.chown(self.identity, self.pw.pw_uid, self.pw.pw_gid)

    def _write_config(self):
        lines = [
            f"ListenAddress 127.0.0.1:{self.port}",
            f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.authorized}",
            "PidFile none",
            "StrictModes no",
            "UsePAM no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            f"AllowUsers {self.user}",
            "Subsystem sftp internal-sftp",
            "X11Forwarding no",
            "PrintMotd no",
            "LogLevel VERBOSE",
        ]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- process -------------------------------------------------------------

    def _log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def _try_start(self):
        self.port = free_port()
        self._write_config()
        # sshd must be started by absolute path (it re-executes itself).
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", self.config, "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        end = time.time() + self.startup_timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(4).startswith(b"SSH-"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise SshdError(f"sshd did not answer on port {self.port} within "
                        f"{self.startup_timeout}s:\n{self._log_text()}")

    def start(self):
        self._write_files()
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        # The free port can be taken between free_port() and sshd's bind:
        # try a few.
        for _ in range(5):
            if self._try_start():
                return self
            if "Address already in use" not in self._log_text():
                break
        raise SshdError(f"sshd exited with {self.proc.returncode}:\n"
                        f"{self._log_text()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- the client side -----------------------------------------------------

    def ssh_options(self):
        """-o options for sshfs (it passes them on to ssh): this key only,
        no host key checks, no prompts, no known-hosts warnings."""
        return (f"IdentityFile={self.identity},IdentitiesOnly=yes,"
                f"StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,"
                f"BatchMode=yes,LogLevel=ERROR,port={self.port}")

    def sshfs_argv(self, remote_dir, mnt, extra=()):
        """sshfs's command line mounting remote_dir (absolute) at mnt;
        extra: more arguments (e.g. ["-o", "ro"], ["-f"])."""
        return ["sshfs", "-o", self.ssh_options(),
                f"{self.user}@127.0.0.1:{remote_dir}", mnt, *extra]

    def sshfs_command(self, remote_dir, mnt, extra=()):
        """The same as one shell-quoted string, for scripts."""
        return shlex.join(self.sshfs_argv(remote_dir, mnt, extra))
