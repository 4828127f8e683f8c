"""Start and stop Azurite (the Azure Storage emulator from npm) on free loopback ports.

Part of the testing kit; used by `make run`, `make test` (the `azurite` fixture) and `make bench`.
In-memory, no telemetry, silent, bound to 127.0.0.1 only. The account and key are Azurite's documented,
well-known development credentials — they open nothing but this local emulator.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGTERM when its parent dies, so an emulator
    never outlives a killed test run or `make run` (no-op where prctl is unavailable)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    return _listening(port)


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Azurite:
    """One Azurite process; `services` is ("table",) or ("blob", "queue", "table").

    In memory by default. With `location`, data is kept on disk there, so a stopped emulator can be
    started again (same ports, same data): the fault tests use that to simulate a storage outage.
    """

    def __init__(self, services: tuple[str, ...] = ("table",), *, location: Path | None = None) -> None:
        self.services = services
        self.location = location
        self.ports: dict[str, int] = {}
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Azurite:
        binary = (
            ROOT / "node_modules" / ".bin" / ("azurite-table" if self.services == ("table",) else "azurite")
        )
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: run `npm ci` (make does this for you)")
        if not self.ports:  # a restart keeps its ports, so clients reconnect to the same address
            self.ports = {service: free_port() for service in self.services}
        persistence = ["--location", str(self.location)] if self.location else ["--inMemoryPersistence"]
        args = [
            str(binary),
            *persistence,
            "--disableTelemetry",
            "--silent",
            "--skipApiVersionCheck",
        ]
        for service, port in self.ports.items():
            args += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(port)]
        self._process = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # before exec: the kernel ends Azurite with us
        )
        deadline = time.monotonic() + timeout
        while not all(_listening(port) for port in self.ports.values()):
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise RuntimeError(f"azurite exited early: {err.strip()[:500]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("azurite did not start listening in time")
            time.sleep(0.05)
        return self

    def connection_string(self) -> str:
        parts = [
            "DefaultEndpointsProtocol=http",
            f"AccountName={ACCOUNT}",
            f"AccountKey={ACCOUNT_KEY}",
        ]
        for service, port in self.ports.items():
            parts.append(f"{service.capitalize()}Endpoint=http://127.0.0.1:{port}/{ACCOUNT}")
        return ";".join(parts) + ";"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """SIGINT first: Azurite then flushes its store (on SIGTERM a disk store loses the writes
        since its last autosave), so a stop is an outage, never data loss."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
