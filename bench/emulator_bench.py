"""What a Query page and an S3 PUT cost the emulator as its tables and buckets grow: moto's code and ours.

    python -m bench.emulator_bench [--sizes 1000 10000 100000] [--runs 5]

For each size, in this process and straight on moto's backends (no HTTP, so the figures are the
emulator's own work, not the network's):

- **Query**: a table holding ``size`` items in partitions of 100, plus one partition of 1,000
  items; the time of one page of 100 of that partition (the first, and one after an
  ExclusiveStartKey), and of a query of a secondary index whose hash key 100 items share, answered
  by moto's own ``Table.query`` and by ``infra.local.dynamodb_query``'s;
- **S3 PUT**: a bucket holding ``size`` keys; the time of a PUT of a new key followed by a
  ListObjectsV2 page of 100 (a commit lists the chunks it was sent), over moto's store (the names
  sorted again after every change, as before ``s3_names``) and over ``s3_names``' sorted store.

Each figure is the minimum over ``--runs`` runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.s3.models import S3Backend, s3_backends
from moto.s3.utils import _VersionedKeyStore

from infra.local import dynamodb_query, s3_listing

ACCOUNT, REGION = "123456789012", "us-east-1"
PAGE = 100


def _best_ms(runs: int, action: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times) * 1000


def _table(backend: DynamoDBBackend, size: int) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    backend.create_table(
        name,
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        throughput=None,
        attr=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        global_indexes=[
            {
                "IndexName": "by_group",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        indexes=None,
        streams=None,
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    for n in range(size):  # partitions of 100; one item in a hundred in the index
        item = {"pk": {"S": f"other-{n // PAGE}"}, "sk": {"N": str(n % PAGE)}, "body": {"S": "x" * 200}}
        if n % 100 == 0:
            item["g"] = {"S": f"group-{n // 10_000}"}
        backend.put_item(name, item)
    for n in range(1000):
        item = {"pk": {"S": "target"}, "sk": {"N": str(n)}, "body": {"S": "x" * 200}}
        if n < PAGE:
            item["g"] = {"S": "target-group"}
        backend.put_item(name, item)
    return name


def _query(backend: DynamoDBBackend, table: str, start: int | None = None, index: bool = False) -> Any:
    attribute, value = ("g", {"S": "target-group"}) if index else ("pk", {"S": "target"})
    start_key = {"pk": {"S": "target"}, "sk": {"N": str(start)}} if start is not None else None
    items, _, _ = backend.query(
        table,
        value,
        None,
        [],
        PAGE,
        start_key,  # type: ignore[arg-type]
        True,
        None,
        index_name="by_group" if index else None,
        hash_key_conditions=[(attribute, value)],
        range_key_conditions=[],
    )
    assert len(items) == PAGE, len(items)
    return items


class _MotoOwnQuery:
    """moto's own Table.query and all_items while inside the block."""

    def __enter__(self) -> None:
        self._saved = Table.query, Table.all_items
        Table.query = Table.query.__wrapped__  # type: ignore[attr-defined,method-assign]
        Table.all_items = Table.all_items.__wrapped__  # type: ignore[attr-defined,method-assign]

    def __exit__(self, *exc: object) -> None:
        Table.query, Table.all_items = self._saved  # type: ignore[method-assign]


def bench_query(size: int, runs: int) -> dict[str, float]:
    backend = dynamodb_backends[ACCOUNT][REGION]
    table = _table(backend, size)
    figures = {}
    for label, shape in (
        ("first page", {}),
        ("page after 500", {"start": 500}),
        ("of an index", {"index": True}),
    ):

        def page(shape: dict[str, Any] = shape) -> None:
            _query(backend, table, **shape)

        with _MotoOwnQuery():
            figures[f"query {label}, moto"] = _best_ms(runs, page)
        figures[f"query {label}, ours"] = _best_ms(runs, page)
    backend.delete_table(table)
    return figures


def _bucket(backend: S3Backend, size: int, moto_store: bool) -> str:
    name = f"bench-{uuid.uuid4().hex[:12]}"
    bucket = backend.create_bucket(name, REGION)
    if moto_store:
        bucket.keys = _VersionedKeyStore()
    for n in range(size):
        backend.put_object(name, f"chunks/ns/{n:08x}", b"")
    return name


def bench_put(size: int, runs: int) -> dict[str, float]:
    backend = s3_backends[ACCOUNT]["aws"]
    figures = {}
    for label, moto_store in (("moto's store", True), ("sorted store", False)):
        bucket = _bucket(backend, size, moto_store)
        backend.list_objects_v2(backend.get_bucket(bucket), "chunks/", None, None, None, PAGE)

        def put_and_list(bucket: str = bucket) -> None:
            backend.put_object(bucket, f"chunks/ns/new-{uuid.uuid4().hex}", b"")
            backend.list_objects_v2(backend.get_bucket(bucket), "chunks/", None, None, None, PAGE)

        figures[f"PUT + list, {label}"] = _best_ms(runs, put_and_list)

        def put(bucket: str = bucket) -> None:
            backend.put_object(bucket, f"chunks/ns/x-{uuid.uuid4().hex}", b"")

        figures[f"PUT alone, {label}"] = _best_ms(runs, put)
        for key_name in list(backend.get_bucket(bucket).keys):
            backend.get_bucket(bucket).keys.pop(key_name)
        backend.delete_bucket(bucket)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_bench")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    dynamodb_query.install()
    s3_listing.install()
    rows: dict[str, dict[int, float]] = {}
    for size in args.sizes:
        for name, ms in {**bench_query(size, args.runs), **bench_put(size, args.runs)}.items():
            rows.setdefault(name, {})[size] = ms
        print(f"size {size} done", flush=True)
    print(f"| ms (min of {args.runs}) | " + " | ".join(f"{size:,}" for size in args.sizes) + " |")
    print("| --- |" + " ---: |" * len(args.sizes))
    for name, by_size in rows.items():
        print(f"| {name} | " + " | ".join(f"{by_size[size]:.2f}" for size in args.sizes) + " |")


if __name__ == "__main__":
    main()
