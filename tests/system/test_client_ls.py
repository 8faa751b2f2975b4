"""`driftbox ls` against the local stack: one folder's children, from the server's folder listing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.system.devices import new_user, stack_dynamodb


def test_ls_lists_one_folder_and_nothing_deleted_or_deeper(make_stack: Any, tmp_path: Path) -> None:
    stack = make_stack()
    (laptop,) = new_user(stack, tmp_path, "laptop")
    (laptop.folder / "Docs" / "sub").mkdir(parents=True)
    for name in ("b.txt", "A.txt", "gone.txt"):
        laptop.file(f"Docs/{name}").write_bytes(b"12345")
    laptop.file("Docs/sub/deep.txt").write_bytes(b"deep")
    laptop.file("top.txt").write_bytes(b"x" * 1234)
    laptop.sync()
    laptop.file("Docs/gone.txt").unlink()
    laptop.sync()

    listed = laptop.run("ls", "/docs").stdout.splitlines()  # any case names the folder

    assert listed == [f"{5:>14}  A.txt", f"{5:>14}  b.txt", f"{'folder':>14}  sub/"]
    assert laptop.run("ls").stdout.splitlines() == [f"{'folder':>14}  Docs/", f"{'1,234':>14}  top.txt"]
    assert laptop.run("ls", "/top.txt").stdout == f"{1234:>14,}  /top.txt\n"
    missing = laptop.run("ls", "/Docs/gone.txt", check=False)
    assert (missing.returncode, missing.stderr) == (
        1,
        "driftbox: /Docs/gone.txt: nothing there on the server\n",
    )


def test_ls_lists_rows_written_before_the_folder_index(make_stack: Any, tmp_path: Path) -> None:
    stack = make_stack()
    (laptop,) = new_user(stack, tmp_path, "laptop")
    (laptop.folder / "Docs").mkdir()
    laptop.file("Docs/a.txt").write_bytes(b"a")
    laptop.sync()
    dynamodb, tables = stack_dynamodb(stack)
    # As an older server left them: no row carries its folder, the namespace has no layout.
    for row in dynamodb.scan(TableName=tables["PATHS_TABLE"])["Items"]:
        key = {"namespace_id": row["namespace_id"], "path_key": row["path_key"]}
        dynamodb.update_item(TableName=tables["PATHS_TABLE"], Key=key, UpdateExpression="REMOVE folder")
    for row in dynamodb.scan(TableName=tables["NAMESPACES_TABLE"])["Items"]:
        key = {"namespace_id": row["namespace_id"]}
        dynamodb.update_item(
            TableName=tables["NAMESPACES_TABLE"], Key=key, UpdateExpression="REMOVE tree_layout"
        )

    assert laptop.run("ls", "/Docs").stdout.splitlines() == [f"{1:>14}  a.txt"]
