"""The two poster storage backends behind one interface: local disk, and an S3-compatible server
reached over HTTP through boto3. The S3 server is moto's (``ThreadedMotoServer``), a real HTTP
server speaking the S3 API on a local port (README, "Event images")."""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer
from PIL import Image

from app.config import ConfigError, Settings
from app.images import processing, storage
from app.images.storage import CACHE_CONTROL, LocalStorage, S3Storage
from app.security import content_security_policy
from devstack.processes import free_port
from tests.support.images import image_bytes

BUCKET = "seatline-posters"


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_settings(url: str, **overrides) -> Settings:
    base = dict(
        env="test",
        media_storage="s3",
        s3_endpoint_url=url,
        s3_bucket=BUCKET,
        s3_access_key_id="seatline",
        s3_secret_access_key="seatline-secret",
    )
    return Settings(**{**base, **overrides})


@pytest.fixture(scope="module")
def bucket(s3_url) -> str:
    client = boto3.client(
        "s3",
        endpoint_url=s3_url,
        aws_access_key_id="seatline",
        aws_secret_access_key="seatline-secret",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=BUCKET)
    # What the operator does once (README, "Event images"): anyone may read the renditions.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
        ],
    }
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    return BUCKET


def renditions():
    return processing.read_poster(image_bytes("JPEG", (1800, 1200)), max_bytes=10 << 20, max_pixels=40_000_000)


def test_s3_backend_puts_renditions_that_are_served_with_long_cache_headers(s3_url, bucket):
    store = storage.from_settings(s3_settings(s3_url))
    assert isinstance(store, S3Storage)
    digest, made = renditions()
    for r in made:
        store.put(r.name, r.data, r.content_type)
    for r in made:
        assert store.get(r.name) == r.data
        url = store.url(r.name)
        assert url == f"{s3_url}/{BUCKET}/posters/{digest}-{r.name.rsplit('-', 1)[1]}"
        with urllib.request.urlopen(url) as answer:  # the object's public address, over HTTP
            assert answer.headers["Content-Type"] == "image/webp"
            assert answer.headers["Cache-Control"] == CACHE_CONTROL
            assert Image.open(io.BytesIO(answer.read())).size == (r.width, r.height)
    assert store.get("posters/none-card.webp") is None


def test_s3_public_url_setting_names_where_pages_link(s3_url, bucket):
    store = storage.from_settings(s3_settings(s3_url, media_public_url="https://cdn.example.com/p/"))
    assert store.url("posters/abc-card.webp") == "https://cdn.example.com/p/posters/abc-card.webp"


def test_s3_with_wrong_keys_or_bucket_fails_loudly(s3_url, bucket):
    store = storage.from_settings(s3_settings(s3_url, s3_bucket="no-such-bucket"))
    with pytest.raises(Exception, match="NoSuchBucket"):
        store.put("posters/x-card.webp", b"x", "image/webp")


def test_local_backend_writes_whole_files_and_refuses_names_outside_its_directory(tmp_path):
    store = storage.from_settings(Settings(env="test", media_dir=str(tmp_path)))
    assert isinstance(store, LocalStorage)
    digest, made = renditions()
    for r in made:
        store.put(r.name, r.data, r.content_type)
        assert (tmp_path / r.name).read_bytes() == r.data == store.get(r.name)
        assert store.url(r.name) == f"/media/{r.name}"
    assert sorted(p.name for p in (tmp_path / "posters").iterdir()) == [f"{digest}-card.webp", f"{digest}-hero.webp"]
    for bad in ("../escape.webp", "/etc/passwd", "posters/../../x", "", "posters//x"):
        with pytest.raises(ValueError):
            store.put(bad, b"x", "image/webp")
    assert not (tmp_path.parent / "escape.webp").exists()
    assert LocalStorage(tmp_path, "https://media.example.com/").url("posters/a.webp") == (
        "https://media.example.com/posters/a.webp"
    )


def test_storage_settings_are_checked():
    with pytest.raises(ConfigError, match="MEDIA_STORAGE"):
        Settings(env="test", media_storage="ftp").validate()
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        Settings(env="test", media_storage="s3").validate()


def test_pages_may_load_posters_from_the_media_origin():
    assert "img-src 'self' data:;" in content_security_policy(Settings(env="test"))
    cdn = content_security_policy(Settings(env="test", media_public_url="https://cdn.example.com/posters"))
    assert "img-src 'self' data: https://cdn.example.com;" in cdn
    s3 = content_security_policy(
        Settings(env="test", media_storage="s3", s3_bucket="b", s3_endpoint_url="http://127.0.0.1:9000")
    )
    assert "img-src 'self' data: http://127.0.0.1:9000;" in s3
