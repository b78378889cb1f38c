"""Build the deployable template and code: `chalice package` with the merge template, then finish it.

Usage: python -m deploy.package [--stage prod] OUT_DIR
Writes OUT_DIR/sam.json (an AWS SAM template) and OUT_DIR/deployment.zip. `make package` runs it;
the template tests run it on fixture apps too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from . import build_template, slim

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Everything that changes the package; `is_fresh` compares their times with the template's.
INPUT_GLOBS = ("app.py", "requirements.txt", ".chalice/config.json", ".chalice/policy-*.json",
               "deploy/resources.json", "deploy/*.py", "chalicelib/**/*.py")


def package(out_dir: Path, stage: str = "prod", project_dir: Path = ROOT,
            merge_template: Path = HERE / "resources.json") -> dict:
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ,
           # The template itself is region-neutral (${AWS::Region}); chalice just insists on one.
           "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1",
           # Packaging downloads Linux wheels from PyPI: be patient with a slow index, once.
           "PIP_DEFAULT_TIMEOUT": os.environ.get("PIP_DEFAULT_TIMEOUT", "60"),
           "PIP_RETRIES": os.environ.get("PIP_RETRIES", "5"),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    chalice = Path(sys.executable).parent / "chalice"
    command = [str(chalice), "--project-dir", str(Path(project_dir).resolve()), "package", "--stage", stage,
               "--pkg-format", "cloudformation", "--merge-template", str(Path(merge_template).resolve()),
               str(out_dir)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    if result.returncode != 0:
        raise build_template.TemplateError(
            f"chalice package failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    path = out_dir / "sam.json"
    template = json.loads(path.read_text())
    build_template.finish(template)
    template.setdefault("Metadata", {})["Followups"] = {"ChaliceStage": stage}
    found = build_template.problems(template)
    if found:
        raise build_template.TemplateError("the template breaks the deployment rules:\n  - " + "\n  - ".join(found))
    runtimes = {f["Properties"]["Runtime"] for f in build_template.functions(template).values()}
    if len(runtimes) != 1:
        raise build_template.TemplateError(f"expected one Lambda runtime, found {sorted(runtimes)}")
    try:
        template["Metadata"]["Followups"]["Package"] = slim.slim(out_dir / "deployment.zip", runtimes.pop())
    except slim.PackageError as e:
        raise build_template.TemplateError(str(e)) from e
    path.write_text(json.dumps(template, indent=2) + "\n")
    return template


def is_fresh(out_dir: Path, stage: str = "prod", project_dir: Path = ROOT) -> bool:
    """Is OUT_DIR/sam.json a build of `stage` newer than every input?"""
    path = Path(out_dir) / "sam.json"
    if not path.exists() or not (Path(out_dir) / "deployment.zip").exists():
        return False
    try:
        built_stage = json.loads(path.read_text())["Metadata"]["Followups"]["ChaliceStage"]
    except (KeyError, ValueError):
        return False
    newest = max(p.stat().st_mtime for pattern in INPUT_GLOBS for p in Path(project_dir).glob(pattern))
    return built_stage == stage and path.stat().st_mtime >= newest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--stage", default="prod")
    args = parser.parse_args()
    try:
        template = package(args.out_dir, args.stage)
    except build_template.TemplateError as e:
        print(e, file=sys.stderr)
        return 1
    zip_path = args.out_dir / "deployment.zip"
    names = ", ".join(f"{k} ({build_template.chalice_name(v)})" for k, v in build_template.functions(template).items())
    print(f"{args.out_dir / 'sam.json'}: stage {args.stage}; functions: {names}")
    done = template["Metadata"]["Followups"]["Package"]
    print(f"{zip_path}: {zip_path.stat().st_size / 1e6:.1f} MB zipped (chalice built "
          f"{done['bytes_before'] / 1e6:.1f} MB; {done['modules_compiled']} modules precompiled, "
          f"{done['entries_dropped']} unused botocore/cache files left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
