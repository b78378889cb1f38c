"""The Lambda package starts from precompiled bytecode and still has every AWS client the code asks for."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deploy import slim
from tests.deploy.conftest import BUILD, ROOT


@pytest.fixture(scope="module")
def extracted(template, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(BUILD / "deployment.zip") as z:
        z.extractall(target)
    return target


def run_in_package(task: Path, code: str) -> subprocess.CompletedProcess:
    """Python as Lambda runs the package: /var/task first, nothing written, no site-packages."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(task), "PYTHONDONTWRITEBYTECODE": "1",
           "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "FOLLOWUPS_GATEWAY_AUTHORIZER": "cognito"}
    return subprocess.run([sys.executable, "-S", "-v", "-c", code], cwd=task, env=env, capture_output=True,
                          text=True, timeout=120)


def test_every_module_of_the_package_ships_with_bytecode_that_never_needs_its_source_checked(extracted):
    with zipfile.ZipFile(BUILD / "deployment.zip") as z:
        names = set(z.namelist())
        for module in ("app.py", "chalicelib/api/routing.py", "pydantic/main.py", "pynamodb/models.py"):
            cached = importlib.util.cache_from_source(module)
            assert cached in names, module
            header = z.read(cached)[:16]
            assert header[:4] == importlib.util.MAGIC_NUMBER
            assert int.from_bytes(header[4:8], "little") == 0b01, "hash-based, unchecked"


def test_importing_the_app_from_the_package_compiles_nothing(extracted):
    # boto3 comes with the Lambda runtime, not the package: lend it this environment's copy.
    runtime = extracted.parent / "runtime"
    runtime.mkdir(exist_ok=True)
    for name in ("boto3", "s3transfer"):
        link = runtime / name
        if not link.exists():
            link.symlink_to(Path(importlib.util.find_spec(name).origin).parent)
    code = f"import sys; sys.path.append({str(runtime)!r}); import app"
    result = run_in_package(extracted, code)
    assert result.returncode == 0, result.stderr[-3000:]
    from_task = [line for line in result.stderr.splitlines() if str(extracted) in line and "code object from" in line]
    assert any("chalicelib" in line for line in from_task)
    assert all(line.rstrip("'").endswith(".pyc") for line in from_task), [
        line for line in from_task if not line.rstrip("'").endswith(".pyc")][:5]


# What only development uses lives in devtools/ (installed by `make install`, never zipped); these
# are the modules that used to sit in chalicelib/ and the packages only the dev requirements pull in.
DEV_ONLY_MODULES = ("chalicelib/cli", "chalicelib/devstack", "chalicelib/local_api", "chalicelib/demo",
                    "chalicelib/moto_speedup", "chalicelib/moto_patch", "chalicelib/store/bootstrap")
DEV_ONLY_PACKAGES = ("devtools", "click", "moto")


def test_the_package_holds_none_of_the_development_tools(template):
    with zipfile.ZipFile(BUILD / "deployment.zip") as z:
        names = z.namelist()
    assert "app.py" in names and "chalicelib/api/routing.py" in names  # the zip read is the app's
    shipped = [n for n in names if n.split("/")[0] in DEV_ONLY_PACKAGES
               or any(n in (f"{m}.py", importlib.util.cache_from_source(f"{m}.py")) for m in DEV_ONLY_MODULES)]
    assert not shipped, f"development-only code in the Lambda zip (move it to devtools/): {shipped[:10]}"


def test_the_runtime_requirements_leave_out_what_only_development_needs():
    pinned = {line.split("==")[0].split("[")[0].strip().lower()
              for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip() and line[0] != "#"}
    assert not pinned & {"click", "moto", "chalice"}, "requirements.txt is what Lambda gets; see requirements-dev.txt"


@pytest.mark.parametrize("service", slim.BOTOCORE_SERVICES)
def test_the_package_can_still_make_the_clients_the_code_uses(extracted, service):
    code = f"import botocore.session as s; s.get_session().create_client({service!r}, region_name='us-east-1')"
    result = run_in_package(extracted, code)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_code_asks_for_no_aws_service_the_package_left_out():
    asked = set()
    for path in [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]:
        asked |= set(re.findall(r"""(?:boto3\.client|create_client|boto3\.resource)\(\s*["']([a-z0-9-]+)["']""",
                                path.read_text()))
    assert asked  # the pattern still finds the Cognito client
    assert asked <= set(slim.BOTOCORE_SERVICES), asked - set(slim.BOTOCORE_SERVICES)


def test_the_package_leaves_out_the_other_service_models(extracted):
    kept = {p.name for p in (extracted / "botocore" / "data").iterdir() if p.is_dir()}
    assert kept == set(slim.BOTOCORE_SERVICES)
