"""Package a training/serving source directory as the ``sourcedir.tar.gz`` SageMaker expects.

SageMaker's framework containers download ``sagemaker_submit_directory`` and open it as a gzipped
tar. A plain directory asset is uploaded as a zip, which they cannot open, so the directory is
packed here, in-process (no Docker), into a reproducible archive: entries sorted, timestamps,
owners and permissions normalised, gzip header without a timestamp. The archive, and so the asset
hash, depends only on the files' relative paths, contents and executable bits: it is the same
across synths and after ``touch``, and changes when a file's content does.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

#: Never packaged: byte code and caches that differ between machines, hidden files and folders
#: (``.git``, ``.venv``, ...), CDK's default output folder, virtual environments and node
#: modules. A cloud assembly (a folder holding CDK's ``cdk.out`` marker file and a
#: ``manifest.json``) and the app's own output folder are left out wherever they are and
#: whatever their name: with ``source_dir="."`` they would otherwise be packed, and grow and
#: change the archive on every synth.
DEFAULT_EXCLUDES: Final[tuple[str, ...]] = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".*",
    "cdk.out",
    "node_modules",
    "venv",
)


def _excluded(relative: Path, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in patterns)


def _is_assembly(directory: Path) -> bool:
    return (directory / "cdk.out").is_file() and (directory / "manifest.json").is_file()


def source_files(
    source_dir: Path,
    excludes: Sequence[str] = DEFAULT_EXCLUDES,
    *,
    skip_dirs: Iterable[str | os.PathLike[str]] = (),
) -> list[Path]:
    """The files that go into the archive, as paths relative to ``source_dir``, sorted; never
    those under ``skip_dirs`` or under a cloud assembly."""
    skipped = {Path(d).resolve() for d in skip_dirs}
    files = []
    for root, dirs, names in os.walk(source_dir):
        if Path(root).resolve() in skipped or _is_assembly(Path(root)):
            dirs.clear()
            continue
        dirs.sort()
        for name in names:
            relative = (Path(root) / name).relative_to(source_dir)
            if not _excluded(relative, excludes):
                files.append(relative)
    return sorted(files, key=lambda p: p.as_posix())


def _tar_bytes(source_dir: Path, files: Iterable[Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative in files:
            path = source_dir / relative
            data = path.read_bytes()
            info = tarfile.TarInfo(relative.as_posix())
            info.size = len(data)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_source_archive(
    source_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    excludes: Sequence[str] = DEFAULT_EXCLUDES,
    skip_dirs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``sourcedir-<hash>.tar.gz`` for ``source_dir`` into ``out_dir`` and return its path.

    Files sit at the archive's root (``mnist.py``, not ``training_code/mnist.py``); folders in
    ``skip_dirs`` are left out.
    """
    source = Path(source_dir)
    payload = _tar_bytes(source, source_files(source, excludes, skip_dirs=skip_dirs))
    compressed = gzip.compress(payload, compresslevel=9, mtime=0)
    digest = hashlib.sha256(compressed).hexdigest()[:16]
    target = Path(out_dir) / f"sourcedir-{digest}.tar.gz"
    if not target.exists():
        partial = target.with_suffix(".partial")
        partial.write_bytes(compressed)
        partial.replace(target)
    return target


def source_dir_asset(
    scope: Construct,
    construct_id: str,
    *,
    source_dir: str | os.PathLike[str],
    excludes: Sequence[str] = DEFAULT_EXCLUDES,
) -> s3_assets.Asset:
    """A file asset holding ``source_dir`` as a reproducible ``tar.gz``, without the app's
    output folder (``outdir``, wherever it is)."""
    out_dir = Path(tempfile.gettempdir()) / "mlpipeline-cdk-sources"
    out_dir.mkdir(parents=True, exist_ok=True)
    stages = (scope.node.root, cdk.Stage.of(scope))
    outdirs = [stage.outdir for stage in stages if isinstance(stage, cdk.Stage)]
    archive = build_source_archive(source_dir, out_dir, excludes=excludes, skip_dirs=outdirs)
    return s3_assets.Asset(scope, construct_id, path=str(archive))
