"""Cold start: the import time of the Lambda entry module (`app`) against a bare Chalice + PynamoDB
app, side by side in one run (`python -X importtime -c 'import app'`, alternating, medians).

Usage: .venv/bin/python bench/cold_start.py [--runs 15] [--json]

Both apps are imported from what Lambda would run: build/deployment.zip (built by `make package`
if it is missing or stale) extracted to a directory, with the runtime's boto3 after it on the path,
bytecode writes off (/var/task is read-only), the stage's environment variables, `python -S`.
The bare app (one route, one PynamoDB model) uses the very same library files. A third column
imports our app without the precompiled bytecode deploy/slim.py adds, as `chalice package` alone
ships it. Where the extra time goes is listed by top-level package (self time, ours minus bare).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy import package as packaging  # noqa: E402
from deploy import slim  # noqa: E402

BUILD = ROOT / "build"
GOAL = 1.5

BARE_APP = '''
from chalice import Chalice
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

app = Chalice(app_name="bare")


class Item(Model):
    class Meta:
        table_name = "bare"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True)


@app.route("/")
def index():
    return {"hello": "world"}
'''

# As on Lambda: the stage `prod` of .chalice/config.json plus the template's variables.
LAMBDA_ENV = {
    "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "followups", "FOLLOWUPS_GATEWAY_AUTHORIZER": "cognito",
    "FOLLOWUPS_TABLE": "followups-prod-BillingTable-X", "FOLLOWUPS_AUDIT_TABLE": "followups-prod-AuditTable-X",
    "FOLLOWUPS_USER_POOL_ID": "us-east-1_example", "FOLLOWUPS_USER_POOL_CLIENT_ID": "exampleclientid",
}
WATCHED = ("icalendar", "hypothesis", "moto", "click", "boto3", "requests", "jwt", "cryptography",
           "aws_lambda_powertools", "pydantic")

Row = tuple[str, int, int]  # module, self us, cumulative us


def import_profile(cwd: Path, path: list[Path]) -> list[Row]:
    env = {**LAMBDA_ENV, "PYTHONPATH": ":".join(str(p) for p in path)}
    result = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c", "import app"], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"import app failed in {cwd}:\n{result.stderr[-3000:]}")
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
            rows.append((name.strip(), int(self_us), int(cumulative_us)))
    return rows


def cpu_ms(cwd: Path, path: list[Path], code: str = "import app") -> float:
    """CPU time (user + system) of `python -S -c CODE`, ended by os._exit (no interpreter teardown,
    which Lambda never pays): steadier than wall time on a busy machine."""
    code = f"{code}\nimport os\nos._exit(0)"
    env = {**LAMBDA_ENV, "PYTHONPATH": ":".join(str(p) for p in path)}
    process = subprocess.Popen([sys.executable, "-S", "-c", code], cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{code!r} failed in {cwd}")
    return (usage.ru_utime + usage.ru_stime) * 1000


def app_ms(rows: list[Row]) -> float:
    return next(c for name, _, c in reversed(rows) if name == "app") / 1000


def by_package(rows: list[Row]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for name, self_us, _ in rows:
        totals[name.split(".")[0]] += self_us / 1000
    return totals


def lambda_tree(tmp: Path) -> dict[str, Path]:
    """The package as /var/task (with and without our bytecode), /var/runtime's boto3, the bare app."""
    if not packaging.is_fresh(BUILD):
        packaging.package(BUILD)
    task, plain, runtime, bare = (tmp / n for n in ("task", "task-no-pyc", "runtime", "bare"))
    with zipfile.ZipFile(BUILD / "deployment.zip") as z:
        z.extractall(task)
        z.extractall(plain, members=[n for n in z.namelist() if "__pycache__" not in n])
    runtime.mkdir()
    for name in ("boto3", "s3transfer"):  # what the Lambda Python runtime adds to the package
        (runtime / name).symlink_to(Path(importlib.util.find_spec(name).origin).parent)
    bare.mkdir()
    (bare / "app.py").write_text(BARE_APP)
    pyc = bare / importlib.util.cache_from_source("app.py")
    pyc.parent.mkdir()
    pyc.write_bytes(slim.pyc(BARE_APP.encode(), "app.py"))
    return {"task": task, "plain": plain, "runtime": runtime, "bare": bare}


def measure(runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t = lambda_tree(Path(tmp))
        setups = {
            "app": (t["task"], [t["task"], t["runtime"]]),
            "bare": (t["bare"], [t["bare"], t["task"], t["runtime"]]),
            "app_without_pyc": (t["plain"], [t["plain"], t["runtime"]]),
        }
        for cwd, path in setups.values():
            import_profile(cwd, path)  # warm the file cache
        times: dict[str, list[float]] = {k: [] for k in setups}
        profiles: dict[str, list[list[Row]]] = {k: [] for k in setups}
        cpu: dict[str, list[float]] = {"app": [], "bare": [], "interpreter": []}
        for i in range(runs):
            cpu["app"].append(cpu_ms(*setups["app"]))
            cpu["bare"].append(cpu_ms(*setups["bare"]))
            cpu["interpreter"].append(cpu_ms(t["bare"], [t["runtime"]], "pass"))
            for name, (cwd, path) in setups.items():
                if name == "app_without_pyc" and i % 3:
                    continue  # slow and only for scale: every third round
                rows = import_profile(cwd, path)
                times[name].append(app_ms(rows))
                profiles[name].append(rows)
    medians = {k: statistics.median(v) for k, v in times.items()}
    interpreter = statistics.median(cpu["interpreter"])
    cpu_medians = {k: statistics.median(cpu[k]) - interpreter for k in ("app", "bare")}

    def median_profile(name: str) -> list[Row]:
        ordered = sorted(range(len(times[name])), key=lambda i: times[name][i])
        return profiles[name][ordered[len(ordered) // 2]]

    ours, bare = by_package(median_profile("app")), by_package(median_profile("bare"))
    extra = sorted(((k, ours[k] - bare.get(k, 0.0)) for k in ours), key=lambda kv: -kv[1])
    loaded = {name.split(".")[0] for name, _, _ in median_profile("app")}
    return {
        "runs": runs,
        "median_ms": {k: round(v, 1) for k, v in medians.items()},
        "runs_ms": {k: [round(x, 1) for x in v] for k, v in times.items()},
        "ratio": round(medians["app"] / medians["bare"], 2),
        "ratio_without_pyc": round(medians["app_without_pyc"] / medians["bare"], 2),
        "goal": GOAL,
        "cpu_import_ms": {k: round(v, 1) for k, v in cpu_medians.items()},
        "cpu_ratio": round(cpu_medians["app"] / cpu_medians["bare"], 2),
        "extra_over_bare_ms": [(k, round(v, 1)) for k, v in extra[:12]],
        "app_self_ms": {k: round(ours.get(k, 0.0), 1) for k in WATCHED if k in loaded},
        "not_imported_at_start": [k for k in WATCHED if k not in loaded],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    r = measure(args.runs)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0 if r["ratio"] <= GOAL else 1
    m = r["median_ms"]
    print(f"import app from build/deployment.zip as Lambda loads it; medians, runs alternating ({r['runs']} rounds)")
    print(f"  bare Chalice + PynamoDB app : {m['bare']:7.1f} ms")
    print(f"  followups app               : {m['app']:7.1f} ms   ratio {r['ratio']:.2f}x (goal <= {GOAL}x)")
    print(f"  followups, no precompiled   : {m['app_without_pyc']:7.1f} ms   ratio {r['ratio_without_pyc']:.2f}x "
          "(as `chalice package` alone ships it)")
    c = r["cpu_import_ms"]
    print(f"  CPU time of the import (process CPU minus an empty interpreter's): followups {c['app']:.1f} ms, "
          f"bare {c['bare']:.1f} ms, ratio {r['cpu_ratio']:.2f}x")
    print("  extra self time over the bare app, by top-level package (median runs):")
    for name, ms in r["extra_over_bare_ms"]:
        print(f"    {name:26s} {ms:+7.1f} ms")
    print("  self time of watched packages in the app: "
          + ", ".join(f"{k} {v} ms" for k, v in r["app_self_ms"].items()))
    print(f"  not imported at start-up: {', '.join(r['not_imported_at_start'])}")
    return 0 if r["ratio"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
