"""The real local stack (`python -m devtools.devstack`, what `make run` starts) on free ports."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalStack:
    def __init__(self, tmp: Path):
        self.stack_file = tmp / "stack.json"
        self.log = tmp / "stack.log"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AWS_", "FOLLOWUPS_")) or k in ("AWS_DEFAULT_REGION",)}
        self.env.update(FOLLOWUPS_API_PORT=str(free_port()), FOLLOWUPS_AWS_PORT=str(free_port()),
                        FOLLOWUPS_STACK_FILE=str(self.stack_file), PYTHONUNBUFFERED="1")
        self.process = None

    def start(self, timeout: float = 60) -> dict:
        started = time.monotonic()
        self.process = subprocess.Popen([sys.executable, "-m", "devtools.devstack"], cwd=ROOT, env=self.env,
                                        stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        while time.monotonic() - started < timeout:
            if self.stack_file.exists():
                self.ready_seconds = time.monotonic() - started
                return json.loads(self.stack_file.read_text())
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text())
            time.sleep(0.1)
        raise RuntimeError("local stack not ready:\n" + self.log.read_text())

    def stop(self) -> int:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            return self.process.wait(timeout=20)
        return self.process.returncode if self.process else 0


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    stack = LocalStack(tmp_path_factory.mktemp("stack"))
    info = stack.start()
    yield stack, info
    stack.stop()
