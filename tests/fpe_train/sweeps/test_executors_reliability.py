"""Executors under abuse: a SIGKILLed driver leaves no pool worker behind; Dask options; TLS on loopback."""

import math
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from fpe_train.sweeps.executors import check_connect_timeout, make_executor, make_security

DRIVER = """
import multiprocessing.resource_tracker as rt, sys, time
from fpe_train.sweeps.executors import LocalExecutor

ex = LocalExecutor(workers=2)
futures = [ex._pool.submit(time.sleep, 120) for _ in range(2)]  # two workers busy for two minutes
while len(ex._pool._processes) < 2:
    time.sleep(0.05)
time.sleep(0.5)  # both past their initializer
print(*ex._pool._processes, rt._resource_tracker._pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by a container's init, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_pool_workers_and_resource_tracker_exit_when_the_driver_is_killed(tmp_path):
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(x) for x in driver.stdout.readline().split()]
    finally:
        driver.kill()
        driver.wait()
    assert len(pids) == 3, pids  # two workers and the resource tracker
    assert all(alive(p) for p in pids[:2])
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in pids if alive(p)]
    for p in left:  # do not leave them to the next test
        os.kill(p, signal.SIGKILL)
    assert left == [], f"still running 10 s after the driver was killed: {left}"


@pytest.mark.parametrize("bad", [math.nan, -1, 0, math.inf, True, "10"])
def test_connect_timeout_must_be_finite_and_positive(bad):
    with pytest.raises(ValueError) as err:
        make_executor("dask", scheduler="tcp://127.0.0.1:9", connect_timeout=bad)
    assert str(err.value) == f"connect_timeout={bad!r}: must be a finite number of seconds > 0 (--connect-timeout)"
    assert check_connect_timeout(2) == 2.0


def test_tls_options_misused():
    with pytest.raises(ValueError, match=r"^tls_ca_file='ca.pem': only with a tls:// scheduler"):
        make_security("tcp://127.0.0.1:8786", ca_file="ca.pem")
    assert make_security("tcp://127.0.0.1:8786") is None
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match=r"a tls:// scheduler needs --tls-ca-file and a client certificate"):
        make_security("tls://127.0.0.1:8786")
    with pytest.raises(ValueError, match=r"^tls_ca_file='/no/ca.pem': no such file$"):
        make_security("tls://127.0.0.1:8786", "/no/ca.pem", "/no/cert.pem", "/no/key.pem")


def self_signed(folder, name):
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl command."""
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "1",
            "-subj",
            f"/CN={name}",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_scheduler_on_loopback(tmp_path):
    pytest.importorskip("distributed")
    from distributed import LocalCluster
    from distributed.security import Security

    cert, key = self_signed(tmp_path, "fpe")
    stranger = self_signed(tmp_path, "stranger")
    both = {
        f"tls_{who}_{part}": path
        for who in ("scheduler", "worker", "client")
        for part, path in (("cert", cert), ("key", key))
    }
    security = Security(tls_ca_file=cert, require_encryption=True, **both)
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tls://",
        security=security,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        ex = make_executor("dask", scheduler=address, tls_ca_file=cert, tls_cert=cert, tls_key=key, connect_timeout=5)
        try:
            assert ex.client.submit(sum, [1, 2, 3]).result(timeout=30) == 6  # a task ran over TLS
        finally:
            ex.close()
        with pytest.raises(ValueError) as err:  # a certificate the scheduler's CA did not sign
            make_executor(
                "dask",
                scheduler=address,
                tls_ca_file=stranger[0],
                tls_cert=stranger[0],
                tls_key=stranger[1],
                connect_timeout=2,
            )
        assert str(err.value).startswith(f"scheduler={address!r}: cannot connect within 2 s")
        assert "\n" not in str(err.value)
        with pytest.raises(ValueError, match="cannot connect within 2 s"):  # plain TCP to a TLS scheduler
            make_executor("dask", scheduler=address.replace("tls://", "tcp://"), connect_timeout=2)


def test_bundled_certificate_and_key_in_one_file(tmp_path):
    pytest.importorskip("distributed")
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = self_signed(tmp_path, "fpe")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(open(cert).read() + open(key).read())
    sec = make_security("tls://127.0.0.1:8786", cert, str(bundle))
    assert sec.tls_client_cert == str(bundle) and sec.require_encryption
    with pytest.raises(ValueError, match="holds no private key; give --tls-key too"):
        make_security("tls://127.0.0.1:8786", cert, cert)


def test_something_else_on_the_scheduler_port_is_one_line():
    """A port that answers, but not as Dask does (a web server, a proxy): a one-line refusal, no traceback."""
    pytest.importorskip("distributed")
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer():
        for _ in range(8):
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 64)
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        with pytest.raises(ValueError) as err:
            make_executor("dask", scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=2)
        assert str(err.value).startswith(f"scheduler='tcp://127.0.0.1:{port}': ")
        assert "\n" not in str(err.value)
    finally:
        server.close()


_FLAG_SCRIPT = """
import os, signal, sys, time
from fpe_train.sweeps.executors import ctrl_c_as_flag
if sys.argv[1] == "ignored":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
before = signal.getsignal(signal.SIGINT)
with ctrl_c_as_flag() as hit:
    os.kill(os.getpid(), signal.SIGINT)  # a KeyboardInterrupt here would end the script with a traceback
    deadline = time.monotonic() + 2
    while not hit.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    print("set" if hit.is_set() else "not set")
print("restored" if signal.getsignal(signal.SIGINT) is before else "changed")
if before is signal.default_int_handler:
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2)
    except KeyboardInterrupt:
        print("raises again")
"""


@pytest.mark.parametrize(
    ("start", "want"),
    [("default", ["set", "restored", "raises again"]), ("ignored", ["not set", "restored"])],
)
def test_ctrl_c_as_flag(start, want):
    """In a process of its own (main thread, SIGINT at its default, as under a terminal): inside, SIGINT sets
    the event and raises nothing (the Dask driver raises KeyboardInterrupt between polls, never inside Dask's
    locks); outside, the handler is back and raises again. Started with SIGINT ignored (a background job), it
    stays ignored."""
    out = subprocess.run(
        [sys.executable, "-c", _FLAG_SCRIPT, start],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:-1] == want
