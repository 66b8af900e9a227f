"""``upload-data``: a folder's files to the pipeline's data bucket, under its data prefix."""

from __future__ import annotations

import sys
from pathlib import Path

from mlpipeline_cdk.contract import outputs

from .._aws import CliError
from .._context import Context


def data_files(directory: Path) -> list[Path]:
    """The files of ``directory`` and its subfolders, hidden ones left out, in name order."""
    if not directory.is_dir():
        raise CliError(f"{directory}: not a directory")
    files = sorted(
        path
        for path in directory.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )
    if not files:
        raise CliError(f"{directory}: no files to upload")
    return files


def cmd_upload_data(context: Context) -> int:
    from boto3.exceptions import S3UploadFailedError

    args = context.args
    files = data_files(args.directory)
    bucket = args.bucket or context.pipeline.output(outputs.DATA_BUCKET_NAME, "--bucket")
    prefix = (
        args.prefix
        if args.prefix is not None
        else context.pipeline.output(outputs.DATA_PREFIX, "--prefix")
    )
    folder = prefix.strip("/")
    s3 = context.client("s3")
    for path in files:
        relative = path.relative_to(args.directory).as_posix()
        key = f"{folder}/{relative}" if folder else relative
        try:
            s3.upload_file(str(path), bucket, key)
        except S3UploadFailedError as exc:
            if "NoSuchBucket" in str(exc):
                raise CliError(f"bucket {bucket} does not exist") from exc
            raise CliError(f"upload to s3://{bucket} failed: {exc}") from exc
        print(f"uploaded s3://{bucket}/{key}")
    folder_uri = f"s3://{bucket}/{folder}/" if folder else f"s3://{bucket}/"
    print(f"runs read {folder_uri} unless given --data-uri", file=sys.stderr)
    return 0
