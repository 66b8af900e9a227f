"""S3 as :class:`~mlpipeline_emulator.process_runtime.ProcessRuntime` sees it: a boto3 client on
the same moto as the emulated SageMaker, and the copies SageMaker makes between S3 and an instance
(channels, archives, checkpoints)."""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from moto.core.models import botocore_stubber


class S3LocationError(ValueError):
    """An S3 URI that cannot be used, or an object that is not there; the message says which."""


def moto_endpoint_url(explicit: str | None = None) -> str | None:
    """Where the emulator's S3 answers: ``explicit`` if given; nothing (plain boto3) while
    ``mock_aws`` intercepts this process's calls; else the moto server on ``$MOTO_PORT``.

    This is how moto's own Step Functions reaches the other services, so the runtime talks to
    whichever moto the state machine does.
    """
    if explicit:
        return explicit
    if botocore_stubber.enabled:
        return None
    port = os.environ.get("MOTO_PORT")
    return f"http://127.0.0.1:{port}" if port else None


def s3_client(region: str, endpoint_url: str | None, account: str | None = None) -> Any:
    """A client of its own (boto3's default session is not thread-safe) on the emulator's S3,
    acting in ``account`` (default: moto's default account)."""
    from ._accounts import credentials_for

    key, secret = credentials_for(account)
    session = boto3.session.Session()
    return session.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(retries={"max_attempts": 2}),
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as ``(bucket, key)``."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise S3LocationError(f"expected an s3://bucket/key URI, got {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def join_uri(prefix: str, *parts: str) -> str:
    return "/".join([prefix.rstrip("/"), *(p.strip("/") for p in parts)])


def list_keys(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    """Every key under ``prefix`` (a plain key prefix, not a folder), in S3's order."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents") or []:
            yield str(item["Key"])


def _local_path(target: Path, relative: str) -> Path:
    path = (target / relative).resolve()
    if not path.is_relative_to(target.resolve()):
        raise S3LocationError(f"the object {relative!r} would land outside {target}")
    return path


def download_prefix(
    client: Any, uri: str, target: Path, *, shard: tuple[int, int] | None = None
) -> int:
    """Download the objects of an ``S3Prefix`` channel into ``target``; returns how many.

    Keys keep their path below the prefix's folder (its part up to the last ``/``), so
    ``s3://b/data/`` and ``s3://b/data/train.csv`` both put ``data/train.csv`` at
    ``target/train.csv``. Folder markers (keys ending in ``/``) are skipped. With ``shard``
    ``(index, count)`` only every ``count``-th key from ``index`` on is fetched, sorted by key
    (``ShardedByS3Key``).
    """
    bucket, prefix = split_uri(uri)
    folder = prefix[: prefix.rfind("/") + 1]
    keys = sorted(k for k in list_keys(client, bucket, prefix) if not k.endswith("/"))
    if shard is not None:
        index, count = shard
        keys = keys[index::count]
    for key in keys:
        path = _local_path(target, key[len(folder) :])
        path.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(path))
    return len(keys)


def download_manifest(
    client: Any, uri: str, target: Path, *, shard: tuple[int, int] | None = None
) -> int:
    """Download what a ``ManifestFile`` lists: ``[{"prefix": "s3://b/p/"}, "rel/a", ...]``; each
    object lands at its path relative to the manifest's prefix."""
    bucket, key = split_uri(uri)
    manifest = json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    if not (isinstance(manifest, list) and manifest and isinstance(manifest[0], dict)):
        raise S3LocationError(f"{uri}: a manifest is a JSON list starting with {{'prefix': ...}}")
    base = str(manifest[0].get("prefix", ""))
    relatives = sorted(str(item) for item in manifest[1:])
    if shard is not None:
        relatives = relatives[shard[0] :: shard[1]]
    for relative in relatives:
        object_bucket, object_key = split_uri(base + relative)
        path = _local_path(target, relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(object_bucket, object_key, str(path))
    return len(relatives)


def download_file(client: Any, uri: str, path: Path) -> None:
    bucket, key = split_uri(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    client.download_file(bucket, key, str(path))


def upload_file(client: Any, path: Path, uri: str, kms_key_id: str | None = None) -> None:
    """Upload ``path``, encrypted with ``kms_key_id`` as SageMaker encrypts its outputs."""
    bucket, key = split_uri(uri)
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else None
    client.upload_file(str(path), bucket, key, ExtraArgs=extra)


def upload_tree(client: Any, directory: Path, uri: str, kms_key_id: str | None = None) -> int:
    """Upload every file under ``directory`` to ``uri`` + its relative path; returns how many."""
    count = 0
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        upload_file(client, path, join_uri(uri, path.relative_to(directory).as_posix()), kms_key_id)
        count += 1
    return count


def merged_files(directories: list[Path]) -> dict[str, Path]:
    """The files of several folders as one tree: relative path to file, later folders winning
    (SageMaker merges ``/opt/ml/model`` of every instance into one archive)."""
    files: dict[str, Path] = {}
    for directory in directories:
        if directory.is_dir():
            for path in directory.rglob("*"):
                if path.is_file():
                    files[path.relative_to(directory).as_posix()] = path
    return dict(sorted(files.items()))


def pack(files: dict[str, Path], archive: Path) -> Path:
    """Write ``files`` (archive name to file) as a gzipped tar, names relative to its root."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for name, path in files.items():
            tar.add(path, arcname=name, recursive=False)
    return archive


def extract(archive: Path, target: Path) -> None:
    """Unpack a (gzipped) tar into ``target``, refusing members that would land outside it."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
            return
        root = target.resolve()
        for member in tar.getmembers():  # Pythons without extraction filters
            destination = (root / member.name).resolve()
            if not destination.is_relative_to(root) or member.issym() or member.islnk():
                raise S3LocationError(f"{archive.name}: refusing to extract {member.name!r}")
        tar.extractall(target)  # every member was checked above
