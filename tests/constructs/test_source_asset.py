"""The training code travels as a reproducible gzipped tar with the script at its root."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from mlpipeline_cdk import MLPipeline, build_source_archive

from conftest import ROOT

#: The training script's files: the entry point mnist.py and the modules it imports.
CODE_FILES = sorted(path.name for path in (ROOT / "training_code").glob("*.py"))


def _source_asset(assembly: cdk.cx_api.CloudAssembly) -> tuple[str, dict[str, Any]]:
    manifest = Path(assembly.directory) / "MLPipelineStack.assets.json"
    files = json.loads(manifest.read_text())["files"]
    ((asset_hash, asset),) = [
        (h, a) for h, a in files.items() if a["source"]["path"].endswith(".tar.gz")
    ]
    return asset_hash, asset


def _asset_file(assembly: cdk.cx_api.CloudAssembly) -> Path:
    _, asset = _source_asset(assembly)
    assert asset["source"]["packaging"] == "file"
    return Path(assembly.directory) / asset["source"]["path"]


def test_synthesized_asset_is_a_tar_gz_with_the_script_at_its_root(
    app_assembly: cdk.cx_api.CloudAssembly,
) -> None:
    path = _asset_file(app_assembly)
    with tarfile.open(path, mode="r:gz") as archive:
        names = archive.getnames()
        for name in CODE_FILES:
            script = archive.extractfile(name)
            assert script is not None, name
            assert script.read() == (ROOT / "training_code" / name).read_bytes(), name
    assert "mnist.py" in names
    assert sorted(names) == CODE_FILES
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith("training_code") for n in names)


def test_sagemaker_submit_directory_points_at_that_asset(
    app_assembly: cdk.cx_api.CloudAssembly, ml_template_json: dict[str, Any]
) -> None:
    asset_hash, asset = _source_asset(app_assembly)
    (destination,) = asset["destinations"].values()
    url = ml_template_json["Resources"]
    assert destination["objectKey"] == f"{asset_hash}.gz"
    assert f"/{asset_hash}.gz" in json.dumps(url)


def _copy_code(tmp_path: Path) -> Path:
    source = tmp_path / "code"
    shutil.copytree(ROOT / "training_code", source, ignore=shutil.ignore_patterns("__pycache__"))
    return source


def test_archive_is_identical_across_builds_and_after_touch(tmp_path: Path) -> None:
    source = _copy_code(tmp_path)
    (tmp_path / "a").mkdir()
    first = build_source_archive(source, tmp_path / "a")
    later = time.time() + 100
    for file in source.rglob("*"):
        os.utime(file, (later, later))
    (tmp_path / "b").mkdir()
    second = build_source_archive(source, tmp_path / "b")
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()


def test_archive_changes_when_the_script_changes(tmp_path: Path) -> None:
    source = _copy_code(tmp_path)
    (tmp_path / "out").mkdir()
    before = build_source_archive(source, tmp_path / "out")
    with (source / "mnist.py").open("a") as script:
        script.write("\n# changed\n")
    after = build_source_archive(source, tmp_path / "out")
    assert before.name != after.name


def test_caches_and_byte_code_are_left_out(tmp_path: Path) -> None:
    source = _copy_code(tmp_path)
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "mnist.cpython-311.pyc").write_bytes(b"\0")
    (source / "stale.pyc").write_bytes(b"\0")
    (source / "helpers").mkdir()
    (source / "helpers" / "util.py").write_text("X = 1\n")
    (tmp_path / "out").mkdir()
    with tarfile.open(build_source_archive(source, tmp_path / "out"), mode="r:gz") as archive:
        names = sorted(archive.getnames())
        members = archive.getmembers()
    assert names == sorted(["helpers/util.py", *CODE_FILES])
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members)


def _synth_from(project: Path, outdir: str) -> tuple[str, list[str]]:
    """Synthesize a pipeline with ``source_dir="."`` from ``project``, as `cdk synth` run there
    would (the app's output folder inside it); the source asset's hash and member names."""
    app = cdk.App(outdir=str(project / outdir))
    stack = cdk.Stack(app, "S")
    MLPipeline(stack, "P", source_dir=".", entry_point="mnist.py")
    assembly = app.synth()
    files = json.loads((Path(assembly.directory) / "S.assets.json").read_text())["files"]
    ((asset_hash, asset),) = [
        (h, a) for h, a in files.items() if a["source"]["path"].endswith(".tar.gz")
    ]
    with tarfile.open(Path(assembly.directory) / asset["source"]["path"], mode="r:gz") as archive:
        return asset_hash, sorted(archive.getnames())


@pytest.mark.parametrize("outdir", ["cdk.out", "build/assembly"])
def test_source_dir_dot_leaves_out_the_cdk_output_and_stays_the_same_across_synths(
    chdir_tmp: Path, outdir: str
) -> None:
    project = chdir_tmp
    for file in CODE_FILES:
        shutil.copy(ROOT / "training_code" / file, project / file)
    for junk in (".venv/lib/site.py", "node_modules/aws-cdk/cli.js", ".git/HEAD"):
        (project / junk).parent.mkdir(parents=True, exist_ok=True)
        (project / junk).write_text("junk\n")
    # An assembly left by an earlier synth into another folder is not training code either.
    (project / "old-out").mkdir()
    (project / "old-out" / "cdk.out").write_text('{"version": "48.0.0"}')
    (project / "old-out" / "manifest.json").write_text("{}")
    first_hash, first_names = _synth_from(project, outdir)
    second_hash, second_names = _synth_from(project, outdir)
    assert first_names == CODE_FILES
    assert (second_hash, second_names) == (first_hash, first_names)
