"""Make the Lambda package start faster and weigh less, after `chalice package` built it.

1. Compiled bytecode. Chalice zips sources only (every entry dated 1980), and /var/task is
   read-only, so without this every cold start compiles every module it imports again (about
   3x the import time, see BENCHMARKS.md). We add `__pycache__/*.cpython-3XX.pyc` in the
   unchecked-hash form of PEP 552: valid whatever the files' times, never recompiled.
   They must be built by the same Python minor version as the Lambda runtime (chalice picks
   the runtime from the building Python, and we check that it matches).
2. botocore's service models. pynamodb pins botocore, so the package carries its own, with the
   models of ~450 AWS services (60% of the zip). The functions create clients for
   BOTOCORE_SERVICES only; the rest is left out. A test checks that those clients can be
   created from the package, and that the code asks for no other service.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import zipfile
from pathlib import Path

BOTOCORE_SERVICES = ("dynamodb", "cognito-idp", "kms", "sqs")  # kms, sqs: webhooks (issue 18)
PYC_FLAGS_UNCHECKED_HASH = (0b01).to_bytes(4, "little")  # hash-based, do not check the source


class PackageError(Exception):
    """The package cannot be slimmed safely; the message says why."""


def runtime_of_this_python() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _skip(name: str, services: tuple[str, ...]) -> bool:
    parts = name.split("/")
    if "__pycache__" in parts:
        return True  # stale, timestamp-checked bytecode from the developer's tree
    if parts[:2] == ["botocore", "data"] and len(parts) > 3 and parts[2] not in services:
        return True
    return False


def pyc(source: bytes, filename: str) -> bytes | None:
    """The bytecode file of `source` in PEP 552's unchecked-hash form, or None if it does not compile."""
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None  # e.g. a package's Python 2 test fixture: it is never imported
    return importlib.util.MAGIC_NUMBER + PYC_FLAGS_UNCHECKED_HASH + importlib.util.source_hash(source) + \
        marshal.dumps(code)


def _importable(name: str) -> bool:
    top = name.split("/")[0]
    return name.endswith(".py") and not top.endswith((".dist-info", ".data", ".egg-info"))


def slim(zip_path: Path, runtime: str, services: tuple[str, ...] = BOTOCORE_SERVICES) -> dict:
    """Rewrite `zip_path`; returns sizes before and after and what was done."""
    if runtime != runtime_of_this_python():
        raise PackageError(f"the functions run {runtime} but this is {runtime_of_this_python()}: bytecode "
                           "would not match; package with the runtime's Python version")
    zip_path = Path(zip_path)
    before = zip_path.stat().st_size
    tmp = zip_path.with_suffix(".slim.tmp")
    dropped = compiled = 0
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if _skip(info.filename, services):
                dropped += 1
                continue
            data = src.read(info)
            dst.writestr(info, data)
            if _importable(info.filename):
                code = pyc(data, info.filename)
                if code is None:
                    continue
                entry = zipfile.ZipInfo(importlib.util.cache_from_source(info.filename), date_time=info.date_time)
                entry.external_attr = 0o644 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                dst.writestr(entry, code)
                compiled += 1
    os.replace(tmp, zip_path)
    return {"bytes_before": before, "bytes_after": zip_path.stat().st_size, "entries_dropped": dropped,
            "modules_compiled": compiled, "botocore_services": list(services)}
