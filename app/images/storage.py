"""Where poster renditions are kept: one small interface, two backends (README, "Event images").

``LocalStorage`` writes files under MEDIA_DIR, served at ``/media/<name>`` by the app
(``app/images/routes.py``) or by whatever serves MEDIA_PUBLIC_URL; ``S3Storage`` puts objects into
a bucket of any S3-compatible store through boto3. Names carry the content's hash, so an object is
never changed once written and every copy of it may be kept for a year (``CACHE_CONTROL``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from app.config import Settings

CACHE_CONTROL = "public, max-age=31536000, immutable"


class Storage(Protocol):
    def put(self, name: str, data: bytes, content_type: str) -> None: ...

    def get(self, name: str) -> bytes | None: ...

    def url(self, name: str) -> str: ...


def _safe(name: str) -> str:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a storage name: {name!r}")
    return name


class LocalStorage:
    def __init__(self, directory: str | Path, public_url: str = "/media") -> None:
        self.directory = Path(directory)
        self.public_url = public_url.rstrip("/")

    def put(self, name: str, data: bytes, content_type: str) -> None:
        path = self.directory / _safe(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed into place: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, name: str) -> bytes | None:
        try:
            return (self.directory / _safe(name)).read_bytes()
        except FileNotFoundError:
            return None

    def url(self, name: str) -> str:
        return f"{self.public_url}/{_safe(name)}"


class S3Storage:
    def __init__(self, client: Any, bucket: str, public_url: str) -> None:
        self.client = client
        self.bucket = bucket
        self.public_url = public_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
            region_name=settings.s3_region,
            # Path-style addressing works with every S3-compatible server (no bucket DNS names).
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}, connect_timeout=5),
        )
        base = (
            settings.media_public_url
            or f"{(settings.s3_endpoint_url or 'https://s3.amazonaws.com').rstrip('/')}/{settings.s3_bucket}"
        )
        return cls(client, settings.s3_bucket, base)

    def put(self, name: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=_safe(name), Body=data, ContentType=content_type, CacheControl=CACHE_CONTROL
        )

    def get(self, name: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=_safe(name))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def url(self, name: str) -> str:
        return f"{self.public_url}/{_safe(name)}"


def from_settings(settings: Settings) -> Storage:
    if settings.media_storage == "s3":
        return S3Storage.from_settings(settings)
    return LocalStorage(settings.media_dir, settings.media_public_url or "/media")
