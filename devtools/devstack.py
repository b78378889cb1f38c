"""The local stack behind `make run`: moto's server as the embedded AWS, `chalice local` as the API.

Not used on AWS. Steps: start moto (DynamoDB + Cognito) on FOLLOWUPS_AWS_PORT, create the tables
and the user pool, seed a demo clinic, start `chalice local` on FOLLOWUPS_API_PORT, write the
stack file, print how to sign in, and on Ctrl-C (or SIGTERM) stop both and remove the stack file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "Demo-Password-2026"


def aws_environment(endpoint: str, region: str = "us-east-1") -> dict[str, str]:
    """What every process of the local stack needs to talk to the embedded AWS."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local")}


class SerializedApp:
    """DynamoDB applies a transaction atomically; moto checks conditions and writes in Python
    with no lock, so two threads can interleave inside one transaction. Serializing the DynamoDB
    (and DynamoDB Streams) requests makes the embedded AWS keep DynamoDB's guarantee (each costs
    a few ms). The other services are left to run side by side: the webhook poller's SQS
    receive waits up to a second for a message (a long poll, as Lambda's event source does),
    and under the one lock every other request of the stack waited behind it."""

    def __init__(self, app):
        self.app, self.lock = app, threading.Lock()

    def __call__(self, environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return list(self.app(environ, start_response))
        with self.lock:
            chunks = list(self.app(environ, start_response))
        return chunks


def start_embedded_aws(port: int, host: str = "127.0.0.1", outbox_file: Path | None = None):
    """moto in server mode in a thread of this process; returns (server, endpoint url). Cognito
    writes what it would send to `outbox_file` (devtools/moto_cognito.py) and checks TOTP codes."""
    import logging

    os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"
    from moto.server import DomainDispatcherApplication, create_backend_app

    from devtools import moto_cognito, moto_patch

    moto_patch.install()
    if outbox_file is not None:
        moto_cognito.install(lambda: str(outbox_file))
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
    app = SerializedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True, name="embedded-aws").start()
    return server, f"http://{host}:{port}"


def wait_for(url: str, seconds: float = 30.0, process: subprocess.Popen | None = None) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the API process exited with {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


def _child_setup() -> None:
    """In the child: its own process group (one signal stops it and its children), and on
    Linux a SIGTERM when this process dies, however it dies, so nothing is left behind."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_api(port: int, env: dict[str, str]) -> subprocess.Popen:
    """`chalice local` (with a deeper listen backlog, devtools/local_api.py) on `port`."""
    return subprocess.Popen(
        [sys.executable, "-m", "devtools.local_api", "local", "--stage", "local", "--host", "127.0.0.1",
         "--port", str(port), "--no-autoreload"],
        cwd=ROOT, env=env, preexec_fn=_child_setup)


def stop_api(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def bootstrap(endpoint: str, console_url: str | None = None) -> tuple[str, str]:
    """Tables and user pool in the embedded AWS; returns (pool id, client id)."""
    os.environ.update(aws_environment(endpoint))
    from devtools import bootstrap as resources

    resources.create_tables()
    pool_id, client_id = resources.create_user_pool(console_url=console_url)
    os.environ["FOLLOWUPS_USER_POOL_ID"], os.environ["FOLLOWUPS_USER_POOL_CLIENT_ID"] = pool_id, client_id
    from chalicelib import config

    config.settings.cache_clear()
    return pool_id, client_id


def main() -> int:
    api_port = int(os.environ.get("FOLLOWUPS_API_PORT", "8000"))
    aws_port = int(os.environ.get("FOLLOWUPS_AWS_PORT", "5005"))
    stack_file = Path(os.environ.get("FOLLOWUPS_STACK_FILE", ROOT / ".local" / "stack.json"))
    outbox_file = Path(os.environ.get("FOLLOWUPS_OUTBOX_FILE", ROOT / ".local" / "outbox.jsonl")).resolve()
    started = time.monotonic()
    api_url = f"http://127.0.0.1:{api_port}"
    console_url = f"{api_url}/console/" if (ROOT / "console" / "index.html").exists() else None
    server, endpoint = start_embedded_aws(aws_port, outbox_file=outbox_file)
    pool_id, client_id = bootstrap(endpoint, console_url)
    poller = start_webhook_delivery(endpoint)  # sets the webhook variables the API needs too
    from devtools import bootstrap as resources

    env = {**os.environ, **aws_environment(endpoint), "FOLLOWUPS_USER_POOL_ID": pool_id,
           "FOLLOWUPS_USER_POOL_CLIENT_ID": client_id, "FOLLOWUPS_GATEWAY_AUTHORIZER": "off",
           "FOLLOWUPS_OUTBOX_FILE": str(outbox_file),
           "FOLLOWUPS_PASSWORD_POLICY": json.dumps(resources.PASSWORD_POLICY)}
    api = start_api(api_port, env)  # it starts up while the demo is seeded (the stack file waits for both)
    from devtools import demo

    try:
        demo_info = demo.seed(DEMO_PASSWORD)
    except BaseException:
        stop_api(api)
        server.shutdown()
        raise
    stopping = threading.Event()

    def stop(*_):
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        wait_for(f"{api_url}/health", process=api)
        stack = {"api_url": api_url, "aws_endpoint_url": endpoint, "region": os.environ["AWS_REGION"],
                 "user_pool_id": pool_id, "user_pool_client_id": client_id, "outbox_file": str(outbox_file)}
        if console_url:
            stack["console_url"] = console_url
        stack_file.parent.mkdir(parents=True, exist_ok=True)
        stack_file.write_text(json.dumps(stack, indent=2) + "\n")
        print(demo.instructions(stack, demo_info, DEMO_PASSWORD, time.monotonic() - started, stack_file),
              flush=True)
        while not stopping.is_set():
            if api.poll() is not None:
                print(f"the API exited with {api.returncode}", file=sys.stderr)
                return 1
            stopping.wait(0.5)
        print("\nstopping the local stack...", flush=True)
        return 0
    finally:
        poller.stop()
        stop_api(api)
        server.shutdown()
        stack_file.unlink(missing_ok=True)


def start_webhook_delivery(endpoint: str):
    """Webhooks (issue 18): the table's stream, the secrets' key and the delivery queue in the
    embedded AWS, and the poller that runs the delivery function's handler on them (as Lambda's
    event source mappings would), in a thread of this process. Loopback receivers are allowed."""
    from devtools import bootstrap as resources
    from devtools.webhook_poller import WebhookPoller

    stream_arn = resources.enable_event_stream()
    made = resources.create_webhook_resources()  # FOLLOWUPS_WEBHOOK_KEY_ID / _QUEUE_URL in os.environ
    os.environ["FOLLOWUPS_WEBHOOK_URL_POLICY"] = "local"
    return WebhookPoller(stream_arn, made["queue_url"], endpoint=endpoint,
                         region=os.environ.get("AWS_REGION", "us-east-1")).start()


if __name__ == "__main__":
    sys.exit(main())
