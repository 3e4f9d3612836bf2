"""The conda environment file and pyproject.toml declare the same dependencies."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import ROOT


def _normal(req: str) -> str:
    req = req.strip().lower().replace("_", "-")
    return re.sub(r"\s+", "", req)


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_normal(r) for r in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        declared |= {_normal(r) for r in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pip = {_normal(line) for line in pip_lines if not line.startswith("-e")}
    assert conda_pip == declared, f"only in pyproject: {declared - conda_pip}; only in environment.yml: {conda_pip - declared}"


def test_torch_is_pinned_to_the_cpu_build_on_disk():
    assert "torch==2.13.0" in (ROOT / "pyproject.toml").read_text()
