"""The packaged template of this app, and small fixture projects packaged with the same config,
policies and merge template (to check that the rules refuse what this app must never ship)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from deploy import package as packaging

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"

@pytest.fixture(scope="session")
def template() -> dict:
    """This app's template, as `make package` builds it (reused when build/ is up to date)."""
    if not packaging.is_fresh(BUILD):
        packaging.package(BUILD)
    return json.loads((BUILD / "sam.json").read_text())


def fixture_project(tmp_path: Path, app_source: str) -> Path:
    project = tmp_path / "project"
    (project / ".chalice").mkdir(parents=True)
    (project / "app.py").write_text(app_source)
    (project / "requirements.txt").write_text("")
    for path in (ROOT / ".chalice").glob("*.json"):
        shutil.copy(path, project / ".chalice" / path.name)
    return project


def translate(template: dict) -> dict:
    """What CloudFormation makes of the SAM template (the AWS::Serverless-2016-10-31 transform),
    with the code locations `aws cloudformation package` would have filled in."""
    from samtranslator.translator.transform import transform

    document = copy.deepcopy(template)
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/followups/deployment.zip"

    class NoManagedPolicies:
        def load(self):
            return {}

    return transform(document, {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
                                "AWS::Partition": "aws", "AWS::StackName": "followups-prod"},
                     NoManagedPolicies())
