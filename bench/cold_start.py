"""Cold start: the import time of the Lambda entry module (`app`) against a bare Chalice + PynamoDB
app, side by side in one run (`python -X importtime -c 'import app'`, alternating, medians).

Usage: .venv/bin/python bench/cold_start.py [--runs 15] [--json] [--against REV]

Both apps are imported from what Lambda would run: build/deployment.zip (built by `make package`
if it is missing or stale) extracted to a directory, with the runtime's boto3 after it on the path,
bytecode writes off (/var/task is read-only), the stage's environment variables, `python -S`.
The bare app (one route, one PynamoDB model) uses the very same library files. A third column
imports our app without the precompiled bytecode deploy/slim.py adds, as `chalice package` alone
ships it. Where the extra time goes is listed by top-level package (self time, ours minus bare).

A route's module loads on the route's first request (chalicelib/api/wiring.py), so the import
alone is not the whole cold start. Two more columns say what the first request adds: the import
plus what `GET /follow-ups` loads (its module, pydantic models, services, PynamoDB models: a
typical route), and the import plus every route module (what app.py imported before routes
were deferred, and what a Lambda that serves every route once ends up loading).

`--against REV` compares, instead, this working tree with git revision REV in one run: the same
package with app.py and chalicelib/ as they are at REV (their bytecode too; REV must have the same
requirements.txt), CPU time of the import, the first `GET /follow-ups` and every route, alternating.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
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

# As on Lambda: the stage `prod` of .chalice/config.json plus the template's variables, and the
# function's name, which the runtime sets (app.py's one gc.freeze() happens only then).
LAMBDA_ENV = {
    "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "followups-prod-APIHandler-X",
    "POWERTOOLS_SERVICE_NAME": "followups", "FOLLOWUPS_GATEWAY_AUTHORIZER": "cognito",
    "FOLLOWUPS_TABLE": "followups-prod-BillingTable-X", "FOLLOWUPS_AUDIT_TABLE": "followups-prod-AuditTable-X",
    "FOLLOWUPS_USER_POOL_ID": "us-east-1_example", "FOLLOWUPS_USER_POOL_CLIENT_ID": "exampleclientid",
}
WATCHED = ("icalendar", "hypothesis", "moto", "click", "boto3", "requests", "jwt", "cryptography",
           "aws_lambda_powertools", "pydantic")

# The first request's part: what `GET /follow-ups` loads through wiring (as Lambda would run it),
# and every route module. importlib.import_module escapes -X importtime's accounting, so these are
# timed inside the process (perf_counter), the bare app's import the same way; the breakdown by
# package imports the route's module with an import statement instead.
IMPORT_APP = "import app"
FIRST_WORKLIST = "from chalicelib.api import wiring\nwiring.handler('GET', '/follow-ups', 'followups')"
EVERY_ROUTE = "from chalicelib.api import wiring\nwiring.load_all()"
SCHEDULED = "from chalicelib.jobs import auto_invoicing"  # what app.auto_invoicing imports on its first event
# as wiring._import loads it (collector on). The split by package is approximate:
# -X importtime times only `import` statements, so a module loaded by `from package import module`
# (or importlib) is charged to whichever timed module is loading (e.g. ~15 ms of ours show up as
# urllib3.util.url's self time); the perf_counter columns are the figures to go by.
WORKLIST_MODULE = "import app\nimport chalicelib.api.followups"
TIMED = """import time
start = time.perf_counter()
import app
{extra}
print((time.perf_counter() - start) * 1000)
"""

Row = tuple[str, int, int, bool]  # module, self us, cumulative us, imported at top level


def import_profile(cwd: Path, path: list[Path], code: str = IMPORT_APP) -> list[Row]:
    env = {**LAMBDA_ENV, "PYTHONPATH": ":".join(str(p) for p in path)}
    result = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c", code], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{code!r} failed in {cwd}:\n{result.stderr[-3000:]}")
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
            top = not name[1:].startswith(" ")
            rows.append((name.strip(), int(self_us), int(cumulative_us), top))
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


def timed_ms(cwd: Path, path: list[Path], extra: str = "") -> float:
    """Wall time of `import app` plus `extra`, measured inside a fresh `python -S` process."""
    env = {**LAMBDA_ENV, "PYTHONPATH": ":".join(str(p) for p in path)}
    result = subprocess.run([sys.executable, "-S", "-c", TIMED.format(extra=extra)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{extra!r} failed in {cwd}:\n{result.stderr[-3000:]}")
    return float(result.stdout.strip().splitlines()[-1])


def total_ms(rows: list[Row]) -> float:
    """Everything the code imported: the sum of the top-level imports' cumulative times."""
    return sum(c for _, _, c, top in rows if top) / 1000


def by_package(rows: list[Row]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for name, self_us, _, _ in rows:
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
        task = (t["task"], [t["task"], t["runtime"]])
        bare_setup = (t["bare"], [t["bare"], t["task"], t["runtime"]])
        setups = {  # -X importtime of `import app`: the measure
            "app": (*task, IMPORT_APP),
            "bare": (*bare_setup, IMPORT_APP),
            "app_without_pyc": (t["plain"], [t["plain"], t["runtime"]], IMPORT_APP),
            "app_worklist_module": (*task, WORKLIST_MODULE),
        }
        timed = {"bare": (*bare_setup, ""), "app": (*task, ""),  # perf_counter, in-process
                 "app_first_worklist": (*task, FIRST_WORKLIST), "app_every_route": (*task, EVERY_ROUTE),
                 "app_scheduled": (*task, SCHEDULED)}
        for setup in setups.values():
            import_profile(*setup)  # warm the file cache
        times: dict[str, list[float]] = {k: [] for k in setups}
        wall: dict[str, list[float]] = {k: [] for k in timed}
        profiles: dict[str, list[list[Row]]] = {k: [] for k in setups}
        cpu: dict[str, list[float]] = {"app": [], "bare": [], "app_first_worklist": [], "interpreter": []}
        for i in range(runs):
            cpu["app"].append(cpu_ms(*setups["app"]))
            cpu["bare"].append(cpu_ms(*setups["bare"]))
            cpu["app_first_worklist"].append(cpu_ms(task[0], task[1], f"import app\n{FIRST_WORKLIST}"))
            cpu["interpreter"].append(cpu_ms(t["bare"], [t["runtime"]], "pass"))
            for name, setup in setups.items():
                if name == "app_without_pyc" and i % 3:
                    continue  # slow and only for scale: every third round
                rows = import_profile(*setup)
                times[name].append(total_ms(rows))
                profiles[name].append(rows)
            for name, setup in timed.items():
                wall[name].append(timed_ms(*setup))
    medians = {k: statistics.median(v) for k, v in times.items()}
    wall_medians = {k: statistics.median(v) for k, v in wall.items()}
    interpreter = statistics.median(cpu["interpreter"])
    cpu_medians = {k: statistics.median(cpu[k]) - interpreter for k in ("app", "bare", "app_first_worklist")}

    def median_profile(name: str) -> list[Row]:
        ordered = sorted(range(len(times[name])), key=lambda i: times[name][i])
        return profiles[name][ordered[len(ordered) // 2]]

    ours, bare = by_package(median_profile("app_worklist_module")), by_package(median_profile("bare"))
    extra = sorted(((k, ours[k] - bare.get(k, 0.0)) for k in ours), key=lambda kv: -kv[1])
    loaded = {name.split(".")[0] for name, _, _, _ in median_profile("app")}
    return {
        "runs": runs,
        "importtime_median_ms": {k: round(v, 1) for k, v in medians.items()},
        "importtime_runs_ms": {k: [round(x, 1) for x in v] for k, v in times.items()},
        "ratio": round(medians["app"] / medians["bare"], 2),
        "ratio_without_pyc": round(medians["app_without_pyc"] / medians["bare"], 2),
        "goal": GOAL,
        "in_process_median_ms": {k: round(v, 1) for k, v in wall_medians.items()},
        "ratio_in_process": round(wall_medians["app"] / wall_medians["bare"], 2),
        "ratio_first_worklist": round(wall_medians["app_first_worklist"] / wall_medians["bare"], 2),
        "ratio_every_route": round(wall_medians["app_every_route"] / wall_medians["bare"], 2),
        "ratio_scheduled": round(wall_medians["app_scheduled"] / wall_medians["bare"], 2),
        "cpu_ms": {k: round(v, 1) for k, v in cpu_medians.items()},
        "cpu_ratio": round(cpu_medians["app"] / cpu_medians["bare"], 2),
        "cpu_ratio_first_worklist": round(cpu_medians["app_first_worklist"] / cpu_medians["bare"], 2),
        "worklist_extra_over_bare_ms": [(k, round(v, 1)) for k, v in extra[:12]],
        "loaded_at_start": sorted(k for k in WATCHED if k in loaded),
        "not_imported_at_start": [k for k in WATCHED if k not in loaded],
    }


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout


def tree_at(rev: str, task: Path, dest: Path) -> Path:
    """A copy of the package tree `task` with app.py and chalicelib/ as they are at git REV."""
    if git("diff", "--name-only", rev, "--", "requirements.txt").strip():
        raise SystemExit(f"requirements.txt differs from {rev}: its package would have other libraries")
    shutil.copytree(task, dest, symlinks=True)
    for line in git("diff", "--name-status", "--no-renames", rev, "--", "app.py", "chalicelib").splitlines():
        status, rel = line.split("\t")
        if not rel.endswith(".py"):
            continue
        target, cached = dest / rel, dest / importlib.util.cache_from_source(rel)
        if status == "A":  # added since REV: not in REV's package
            target.unlink(missing_ok=True)
            cached.unlink(missing_ok=True)
            continue
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{rel}"], capture_output=True,
                                check=True).stdout
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source)
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(slim.pyc(source, rel))
    return dest


def compare(runs: int, rev: str) -> dict:
    """CPU time of this tree and of REV's, alternating, as ratios to the bare app's import."""
    with tempfile.TemporaryDirectory() as tmp:
        t = lambda_tree(Path(tmp))
        old = tree_at(rev, t["task"], Path(tmp) / "at-rev")
        trees = {rev: (old, [old, t["runtime"]]), "this tree": (t["task"], [t["task"], t["runtime"]])}
        codes = {"import app": IMPORT_APP, "+ first GET /follow-ups": f"{IMPORT_APP}\n{FIRST_WORKLIST}",
                 "+ every route module": f"{IMPORT_APP}\n{EVERY_ROUTE}"}
        bare_setup = (t["bare"], [t["bare"], t["task"], t["runtime"]])
        for setup in (bare_setup, *trees.values()):
            cpu_ms(*setup)  # warm the file cache
        cpu: dict[tuple[str, str], list[float]] = {(n, c): [] for n in trees for c in codes}
        bare, interpreter = [], []
        for _ in range(runs):
            interpreter.append(cpu_ms(t["bare"], [t["runtime"]], "pass"))
            bare.append(cpu_ms(*bare_setup))
            for name, code in cpu:
                cpu[(name, code)].append(cpu_ms(*trees[name], codes[code]))
    empty = statistics.median(interpreter)
    bare_ms = statistics.median(bare) - empty
    return {"runs": runs, "bare_ms": round(bare_ms, 1), "cpu": {
        code: {name: [round(statistics.median(cpu[(name, code)]) - empty, 1),
                      round((statistics.median(cpu[(name, code)]) - empty) / bare_ms, 2)] for name in trees}
        for code in codes}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--against", metavar="REV", help="compare this working tree with git revision REV")
    args = parser.parse_args()
    if args.against:
        c = compare(args.runs, args.against)
        if args.json:
            print(json.dumps(c, indent=2))
            return 0
        print(f"CPU time (process CPU minus an empty interpreter's), medians of {c['runs']} alternating rounds; "
              f"ratio to the bare app's import ({c['bare_ms']:.1f} ms)")
        for code, by_tree in c["cpu"].items():
            print(f"  {code:26s}" + "".join(f"  {name}: {ms:6.1f} ms {ratio:.2f}x" for name, (ms, ratio)
                                              in by_tree.items()))
        return 0
    r = measure(args.runs)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0 if r["ratio"] <= GOAL else 1
    m, w, c = r["importtime_median_ms"], r["in_process_median_ms"], r["cpu_ms"]
    print(f"Cold start from build/deployment.zip as Lambda loads it; medians of {r['runs']} alternating rounds")
    print("python -X importtime -c 'import app' (the entry module; the issue's measure):")
    print(f"  bare Chalice + PynamoDB app : {m['bare']:7.1f} ms")
    print(f"  followups app               : {m['app']:7.1f} ms   ratio {r['ratio']:.2f}x (goal <= {GOAL}x)")
    print(f"  followups, no precompiled   : {m['app_without_pyc']:7.1f} ms   ratio {r['ratio_without_pyc']:.2f}x "
          "(as `chalice package` alone ships it)")
    print("Timed in the process (perf_counter), with what the first request loads:")
    print(f"  bare app, import            : {w['bare']:7.1f} ms")
    print(f"  followups, import           : {w['app']:7.1f} ms   ratio {r['ratio_in_process']:.2f}x")
    print(f"  + first GET /follow-ups     : {w['app_first_worklist']:7.1f} ms   ratio {r['ratio_first_worklist']:.2f}x "
          "(its module, models, services, PynamoDB)")
    print(f"  + every route module        : {w['app_every_route']:7.1f} ms   ratio {r['ratio_every_route']:.2f}x")
    print(f"  + the auto-invoicing job    : {w['app_scheduled']:7.1f} ms   ratio {r['ratio_scheduled']:.2f}x "
          "(the scheduled function's first event)")
    print(f"CPU time (process CPU minus an empty interpreter's): bare {c['bare']:.1f} ms; import {c['app']:.1f} ms, "
          f"ratio {r['cpu_ratio']:.2f}x; import + first GET /follow-ups {c['app_first_worklist']:.1f} ms, "
          f"ratio {r['cpu_ratio_first_worklist']:.2f}x")
    print("Import + GET /follow-ups's module, extra self time over the bare app by top-level package "
          "(-X importtime; approximate, see WORKLIST_MODULE):")
    for name, ms in r["worklist_extra_over_bare_ms"]:
        print(f"    {name:26s} {ms:+7.1f} ms")
    print(f"Loaded at start-up: {', '.join(r['loaded_at_start']) or 'none of the watched packages'}; "
          f"not: {', '.join(r['not_imported_at_start'])}")
    return 0 if r["ratio"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
