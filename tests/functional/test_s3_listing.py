"""The emulator's ListObjectsV2 (infra.local.s3_listing, s3_names) answers exactly as moto's own code does.

s3_listing replaces moto's listing and its XML writer for the whole process and cannot be undone,
so these tests switch between the two with ``monkeypatch``, starting from moto's own functions even
when an emulator started earlier in the process has already installed s3_listing. They run against
moto's in-process mock, on buckets of their own, and keep the rest of moto's state: the functional
tests' emulator serves from the same moto backends.
"""

from __future__ import annotations

import itertools
import random
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any, Literal

import boto3
import pytest
from botocore.handlers import set_list_objects_encoding_type_url
from moto import mock_aws
from moto.s3.models import FakeKey, S3Backend, s3_backends
from moto.s3.responses import S3Response
from moto.s3.utils import _VersionedKeyStore

from infra.local import s3_listing
from infra.local.s3_names import SortedKeyStore

SPECIAL = "&<>\"' é/"  # a folder whose name XML must escape, and not ASCII
FOLDERS = ("", "a/", "a/x/", "b/", "sp ace/", SPECIAL)
# Names equal to a prefix, or sorting just before or after one ("." < "/" < "0").
EDGE_NAMES = ("a/", "a/x/", "a/x", "a.b", "a0", SPECIAL)
LEAF_CHARS = "0123456789abcdef &<é"
PREFIXES = ("", "a/", "a/x/", "c/", SPECIAL)  # "c/" matches nothing
PAST_ALL = "ÿ"  # sorts after every name here: none has a character above "é"
MAX_KEYS = (0, 1, 7, 1000)
EXTRAS: tuple[dict[str, Any], ...] = ({}, {"Delimiter": "/"}, {"EncodingType": "url"}, {"FetchOwner": True})
NAMESPACE = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}

UseListing = Callable[[Literal["moto", "s3_listing"]], None]


def _moto_own(current: Any, mark: str) -> Any:
    """moto's own function: ``current``, or the one it wraps if s3_listing has replaced it."""
    return current.__wrapped__ if getattr(current, mark, False) else current


@pytest.fixture
def use_listing(monkeypatch: pytest.MonkeyPatch) -> UseListing:
    """Switch between moto's own listing and s3_listing's; what was installed before is back after."""
    moto_list = _moto_own(S3Backend.list_objects_v2, "_driftbox_indexed")
    moto_serialized = _moto_own(S3Response.serialized, "_driftbox_direct")

    def use(which: Literal["moto", "s3_listing"]) -> None:
        monkeypatch.setattr(S3Backend, "list_objects_v2", moto_list)
        monkeypatch.setattr(S3Response, "serialized", moto_serialized)
        indexed = which == "s3_listing"
        if indexed:
            s3_listing.install()  # patches again, over the originals monkeypatch will put back
        assert getattr(S3Backend.list_objects_v2, "_driftbox_indexed", False) is indexed
        assert getattr(S3Response.serialized, "_driftbox_direct", False) is indexed

    return use


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An S3 client on moto's in-process mock that lists names as they are.

    boto3 asks for URL-encoded names unless told otherwise, which would keep ``&<>`` and non-ASCII
    names out of the XML under test; EncodingType="url" is tested by asking for it.
    """
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # tests/conftest.py points it at a server
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    mock = mock_aws()
    mock.start(reset=False)  # a reset would empty the emulator's tables and bucket too
    client = boto3.client("s3", region_name="us-east-1")
    client.meta.events.unregister(
        "before-parameter-build.s3.ListObjectsV2", set_list_objects_encoding_type_url
    )
    try:
        yield client
    finally:
        for bucket_name in [b["Name"] for b in client.list_buckets()["Buckets"]]:
            if bucket_name.startswith("listing-test-"):
                _remove_bucket(bucket_name)
        mock.stop(remove_data=False)


def _backend(bucket_name: str) -> Any:
    """The moto S3 backend holding the bucket."""
    partition, account_id = s3_backends.bucket_accounts[bucket_name]
    return s3_backends[account_id][partition]


def _remove_bucket(bucket_name: str) -> None:
    """Drop a bucket and every version in it at once (through the API it is a request per key)."""
    backend = _backend(bucket_name)
    bucket = backend.get_bucket(bucket_name)
    for versions in dict.values(bucket.keys):
        for version in versions:
            if isinstance(version, FakeKey):
                version.dispose()
    bucket.keys.clear()
    backend.delete_bucket(bucket_name)


def _new_bucket(s3: Any, versioned: bool) -> str:
    bucket = f"listing-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    if versioned:  # a delete then leaves a delete marker as the name's latest version
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def _fill(s3: Any, bucket: str, rnd: random.Random) -> list[str]:
    """Put a couple of hundred random names, delete some, put a few of those back; the live names."""
    names = [rnd.choice(FOLDERS) + "".join(rnd.choices(LEAF_CHARS, k=rnd.randint(1, 5))) for _ in range(200)]
    names = list(dict.fromkeys([*EDGE_NAMES, *names]))
    for name in names:
        s3.put_object(Bucket=bucket, Key=name, Body=b"x" * rnd.randrange(5))
    deleted = rnd.sample(names, 30)
    for name in deleted:
        s3.delete_object(Bucket=bucket, Key=name)
    for name in deleted[:10]:
        s3.put_object(Bucket=bucket, Key=name, Body=b"back")
    return sorted(set(names) - set(deleted[10:]))


def _listing(s3: Any, **params: Any) -> list[dict[str, Any]]:
    """Every page of a listing, as boto3 parses them, without the opaque continuation tokens."""
    pages = []
    while True:
        page = s3.list_objects_v2(**params)
        del page["ResponseMetadata"]
        token = page.pop("NextContinuationToken", None)
        page.pop("ContinuationToken", None)
        pages.append(page)
        if not page["IsTruncated"]:
            return pages
        assert token is not None and len(pages) <= 250, page  # more than the names in any bucket here
        params = {**params, "ContinuationToken": token}


def _names_listed(pages: list[dict[str, Any]]) -> list[str]:
    return [entry["Key"] for page in pages for entry in page.get("Contents", [])]


@pytest.mark.parametrize("versioned", [False, True], ids=["plain", "versioned"])
def test_every_listing_is_answered_as_moto_answers_it(
    s3: Any, use_listing: UseListing, versioned: bool
) -> None:
    bucket = _new_bucket(s3, versioned)
    live = _fill(s3, bucket, random.Random(7))
    inside = next(name for name in live if name.startswith("a/x/") and len(name) > 5)[:-1]
    start_afters = (None, "", inside, PAST_ALL)  # absent, empty, a proper prefix of a key, past all
    cases = [
        {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys, **extra}
        | ({} if start_after is None else {"StartAfter": start_after})
        for prefix, start_after, max_keys, extra in itertools.product(
            PREFIXES, start_afters, MAX_KEYS, EXTRAS
        )
        # A key a page costs a request per key; the extras change how a page is written, not where
        # it ends, and are tested with the other sizes.
        if max_keys != 1 or not extra
    ]

    use_listing("moto")
    assert _names_listed(_listing(s3, Bucket=bucket, MaxKeys=1000)) == live  # the bucket is as meant
    expected = [_listing(s3, **case) for case in cases]
    use_listing("s3_listing")
    answered = [_listing(s3, **case) for case in cases]

    for case, moto_pages, pages in zip(cases, expected, answered, strict=True):
        assert pages == moto_pages, case


def test_a_listing_deep_in_a_large_bucket_starts_right_after_start_after(
    s3: Any, use_listing: UseListing
) -> None:
    use_listing("s3_listing")
    bucket = _new_bucket(s3, versioned=False)
    rnd = random.Random(11)
    names = sorted({f"chunks/{rnd.getrandbits(64):016x}" for _ in range(5000)})
    backend = _backend(bucket)
    for name in names:  # through the backend: 5,000 puts through boto3 would take seconds
        backend.put_object(bucket, name, b"")

    page = s3.list_objects_v2(Bucket=bucket, Prefix="chunks/", StartAfter=names[4321], MaxKeys=5)
    assert [entry["Key"] for entry in page["Contents"]] == names[4322:4327]
    assert page["IsTruncated"]
    following = s3.list_objects_v2(
        Bucket=bucket, Prefix="chunks/", ContinuationToken=page["NextContinuationToken"], MaxKeys=5
    )
    assert [entry["Key"] for entry in following["Contents"]] == names[4327:4332]
    # A proper prefix of a key sorts just before it: the backend's own way to start at a key.
    last = s3.list_objects_v2(Bucket=bucket, Prefix="chunks/", StartAfter=names[-2][:-1], MaxKeys=5)
    assert [entry["Key"] for entry in last["Contents"]] == names[-2:]
    assert not last["IsTruncated"]


@pytest.mark.parametrize("versioned", [False, True], ids=["plain", "versioned"])
def test_a_listing_sees_the_puts_and_deletes_since_the_previous_one(
    s3: Any, use_listing: UseListing, versioned: bool
) -> None:
    use_listing("s3_listing")
    bucket = _new_bucket(s3, versioned)
    for name in ("k1", "k3", "k5"):
        s3.put_object(Bucket=bucket, Key=name, Body=b"x")
    assert _names_listed(_listing(s3, Bucket=bucket)) == ["k1", "k3", "k5"]

    s3.put_object(Bucket=bucket, Key="k2", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="k3")
    assert _names_listed(_listing(s3, Bucket=bucket)) == ["k1", "k2", "k5"]
    s3.put_object(Bucket=bucket, Key="k3", Body=b"again")
    assert _names_listed(_listing(s3, Bucket=bucket, StartAfter="k1", MaxKeys=2)) == ["k2", "k3", "k5"]


def test_listing_xml_escapes_names_and_they_parse_back_unchanged() -> None:
    name = "a&b<c>d\"e'f é"
    document = s3_listing.listing_xml(
        {"Name": "bucket", "Prefix": "a&b<", "IsTruncated": False, "Contents": [{"Key": name, "Size": 1}]}
    )

    assert "a&amp;b&lt;c&gt;d" in document
    root = ET.fromstring(document.encode())  # noqa: S314 - a document this test wrote
    assert root.findtext("s3:Contents/s3:Key", namespaces=NAMESPACE) == name
    assert root.findtext("s3:Prefix", namespaces=NAMESPACE) == "a&b<"
    assert root.findtext("s3:IsTruncated", namespaces=NAMESPACE) == "false"


def _twin_buckets(s3: Any, use_listing: UseListing, versioned: bool) -> tuple[str, str]:
    """Two buckets for the same writes: one keeps its names in s3_names' sorted store, one in moto's."""
    use_listing("s3_listing")  # installs s3_names too: buckets made from here on sort their names
    indexed, plain = _new_bucket(s3, versioned), _new_bucket(s3, versioned)
    _backend(plain).get_bucket(plain).keys = _VersionedKeyStore()
    assert isinstance(_backend(indexed).get_bucket(indexed).keys, SortedKeyStore)
    return indexed, plain


def _write_both(s3: Any, buckets: tuple[str, str], rnd: random.Random, versioned: bool) -> None:
    """One random write, the same to both buckets: a put, a delete, a version's delete, a batch."""
    name = rnd.choice(FOLDERS) + "".join(rnd.choices(LEAF_CHARS[:6], k=rnd.randint(1, 3)))
    roll = rnd.random()
    if roll < 0.55:
        body = b"x" * rnd.randrange(4)
        for bucket in buckets:
            s3.put_object(Bucket=bucket, Key=name, Body=body)
    elif roll < 0.75:
        for bucket in buckets:
            s3.delete_object(Bucket=bucket, Key=name)
    elif roll < 0.9 and versioned:
        place = rnd.randrange(8)
        for bucket in buckets:  # the same place in each name's history: the ids are each bucket's own
            versions = _backend(bucket).get_bucket(bucket).keys.getlist(name, [])
            if versions:
                version = versions[place % len(versions)]
                s3.delete_object(Bucket=bucket, Key=name, VersionId=version.version_id)
    else:
        names = list(dict.fromkeys([name, *(rnd.choice(EDGE_NAMES) for _ in range(3))]))
        for bucket in buckets:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": each} for each in names]})


def _comparable(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pages without what twin buckets differ in: their names, times and version ids."""
    kept = []
    for page in pages:
        page = {key: value for key, value in page.items() if key != "Name"}
        for listed in ("Contents", "Versions", "DeleteMarkers"):
            if listed in page:
                page[listed] = [
                    {k: v for k, v in entry.items() if k not in ("LastModified", "VersionId")}
                    for entry in page[listed]
                ]
        kept.append(page)
    return kept


def _versions(s3: Any, **params: Any) -> list[dict[str, Any]]:
    pages = []
    while True:
        page = s3.list_object_versions(**params)
        del page["ResponseMetadata"]
        pages.append(page)
        if not page["IsTruncated"]:
            return pages
        params = {**params, "KeyMarker": page["NextKeyMarker"]}
        params.pop("VersionIdMarker", None)  # the twins' ids differ: page by key only
        assert len(pages) <= 250, page


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("versioned", [False, True], ids=["plain", "versioned"])
def test_after_random_writes_every_listing_is_the_one_moto_gives_over_its_own_store(
    s3: Any, use_listing: UseListing, versioned: bool, seed: int
) -> None:
    rnd = random.Random(f"{versioned}-{seed}")
    indexed, plain = _twin_buckets(s3, use_listing, versioned)
    for _ in range(15):
        for _ in range(rnd.randint(1, 12)):
            _write_both(s3, (indexed, plain), rnd, versioned)
        params: dict[str, Any] = {"Prefix": rnd.choice(PREFIXES), "MaxKeys": rnd.choice([3, 10, 1000])}
        if rnd.random() < 0.3:
            params["Delimiter"] = "/"
        if rnd.random() < 0.3:
            params["StartAfter"] = rnd.choice([*EDGE_NAMES, "a/x/3", PAST_ALL])
        use_listing("s3_listing")
        ours = _listing(s3, Bucket=indexed, **params)
        use_listing("moto")
        assert _comparable(ours) == _comparable(_listing(s3, Bucket=plain, **params)), params
        store = _backend(indexed).get_bucket(indexed).keys
        assert store.names_from("", None, 10**6) == sorted(_backend(plain).get_bucket(plain).keys)
        params.pop("StartAfter", None)
        del params["MaxKeys"]
        assert _comparable(_versions(s3, Bucket=indexed, **params)) == _comparable(
            _versions(s3, Bucket=plain, **params)
        ), params
