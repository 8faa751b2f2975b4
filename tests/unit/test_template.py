"""infra/template.yaml agrees with the pynamodb models, .chalice/config.json and the functions' needs."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from chalice.utils import to_cfn_resource_name
from pynamodb.models import Model

from chalicelib.adapters.models import ALL_MODELS
from chalicelib.settings import SETTINGS, TABLES
from infra.local import resources
from infra.local.resources import TableDefinition

PROJECT_DIR = Path(__file__).resolve().parents[2]
CONFIG = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text(encoding="utf-8"))
PACKAGED_STAGE = "prod"  # the Chalice stage `make package` packages
# The functions `chalice package` emits for app.py. An override of a name Chalice no longer emits
# is a resource without a Type, which the cfn-lint step of `make test` refuses.
FUNCTIONS = (
    "APIHandler",
    "OnChange",
    "SweepOutbox",
    "WebsocketConnect",
    "WebsocketMessage",
    "WebsocketDisconnect",
)

Key = tuple[str, str, str]  # (KeyType, attribute name, attribute type)


@dataclass(frozen=True)
class Shape:
    """What the model and the table must agree on."""

    keys: tuple[Key, ...]
    attributes: frozenset[tuple[str, str]]
    indexes: frozenset[tuple[str, tuple[Key, ...], str]]  # (name, keys, projection type)
    ttl: str | None


def _keys(key_schema: Iterable[dict[str, str]], types: dict[str, str]) -> tuple[Key, ...]:
    return tuple(
        sorted(
            (k["KeyType"], k["AttributeName"], types.get(k["AttributeName"], "undefined")) for k in key_schema
        )
    )


def model_shape(model: type[Model]) -> Shape:
    schema: dict[str, Any] = model._get_schema()  # type: ignore[assignment]  # what pynamodb creates tables from
    assert not schema["local_secondary_indexes"], "resources.py does not create local secondary indexes"
    types = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
    ttl = model._ttl_attribute()  # type: ignore[no-untyped-call]
    return Shape(
        keys=_keys(schema["key_schema"], types),
        attributes=frozenset(types.items()),
        indexes=frozenset(
            (index["index_name"], _keys(index["key_schema"], types), index["projection"]["ProjectionType"])
            for index in schema["global_secondary_indexes"]
        ),
        ttl=ttl.attr_name if ttl is not None else None,
    )


def table_shape(table: TableDefinition) -> Shape:
    types = table.attribute_types
    return Shape(
        keys=_keys(table.key_schema, types),
        attributes=frozenset(types.items()),
        indexes=frozenset(
            (index["IndexName"], _keys(index["KeySchema"], types), index["Projection"]["ProjectionType"])
            for index in table.indexes
        ),
        ttl=table.ttl_attribute,
    )


def mismatches(models: Iterable[type[Model]], tables: Iterable[TableDefinition]) -> list[str]:
    """Every disagreement between the models and the template's tables, matched by table name."""
    by_model = {model.Meta.table_name: model_shape(model) for model in models}
    by_table = {table.name: table_shape(table) for table in tables}
    problems = [
        f"{name}: a model with no table in the template" for name in sorted(by_model.keys() - by_table.keys())
    ]
    problems += [
        f"{name}: a table in the template with no model" for name in sorted(by_table.keys() - by_model.keys())
    ]
    problems += [
        f"{name}: the model has {by_model[name]}, the template {by_table[name]}"
        for name in sorted(by_model.keys() & by_table.keys())
        if by_model[name] != by_table[name]
    ]
    return problems


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return resources.load()


def test_every_model_has_its_table_in_the_template_with_the_same_keys_indexes_and_ttl() -> None:
    # The test environment names tables driftbox-test-<name>, as the template does for stage "test".
    assert mismatches(ALL_MODELS, resources.table_definitions("test")) == []


def _drop_connections(doc: dict[str, Any]) -> None:
    del doc["Resources"]["ConnectionsTable"]


def _add_stray_table(doc: dict[str, Any]) -> None:
    stray = copy.deepcopy(doc["Resources"]["UsersTable"])
    stray["Properties"]["TableName"] = {"Fn::Sub": "driftbox-${Stage}-stray"}
    doc["Resources"]["StrayTable"] = stray


def _revision_numbers_as_text(doc: dict[str, Any]) -> None:
    for attribute in doc["Resources"]["RevisionsTable"]["Properties"]["AttributeDefinitions"]:
        if attribute["AttributeName"] == "rev":
            attribute["AttributeType"] = "S"


def _swap_device_keys(doc: dict[str, Any]) -> None:
    schema = doc["Resources"]["DevicesTable"]["Properties"]["KeySchema"]
    schema[0]["KeyType"], schema[1]["KeyType"] = schema[1]["KeyType"], schema[0]["KeyType"]


def _rename_index(doc: dict[str, Any]) -> None:
    doc["Resources"]["ConnectionsTable"]["Properties"]["GlobalSecondaryIndexes"][0]["IndexName"] = "by_device"


def _keys_only_projection(doc: dict[str, Any]) -> None:
    index = doc["Resources"]["MembershipsTable"]["Properties"]["GlobalSecondaryIndexes"][0]
    index["Projection"] = {"ProjectionType": "KEYS_ONLY"}


def _drop_index(doc: dict[str, Any]) -> None:
    del doc["Resources"]["MembershipsTable"]["Properties"]["GlobalSecondaryIndexes"]


def _drop_ttl(doc: dict[str, Any]) -> None:
    del doc["Resources"]["TokensTable"]["Properties"]["TimeToLiveSpecification"]


def _ttl_on_another_attribute(doc: dict[str, Any]) -> None:
    doc["Resources"]["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] = "ttl"


@pytest.mark.parametrize(
    ("break_template", "table"),
    [
        (_drop_connections, "connections"),
        (_add_stray_table, "stray"),
        (_revision_numbers_as_text, "revisions"),
        (_swap_device_keys, "devices"),
        (_rename_index, "connections"),
        (_keys_only_projection, "memberships"),
        (_drop_index, "memberships"),
        (_drop_ttl, "tokens"),
        (_ttl_on_another_attribute, "idempotency"),
    ],
)
def test_the_check_names_the_table_where_model_and_template_disagree(
    tmp_path: Path, template: dict[str, Any], break_template: Callable[[dict[str, Any]], None], table: str
) -> None:
    broken = copy.deepcopy(template)
    break_template(broken)
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    problems = mismatches(ALL_MODELS, resources.table_definitions("test", path))
    assert len(problems) == 1
    assert problems[0].startswith(f"driftbox-test-{table}:")


# The local stage is `chalice local`'s against `make run`'s emulator: the dev stage's resources.
RESOURCES_OF = {"local": "dev"}


@pytest.mark.parametrize("stage", sorted(CONFIG["stages"]))
def test_config_names_the_resources_the_template_names(stage: str) -> None:
    env = CONFIG["stages"][stage]["environment_variables"]
    served = RESOURCES_OF.get(stage, stage)
    tables = {
        table.name.removeprefix(f"driftbox-{served}-"): table.name
        for table in resources.table_definitions(served)
    }
    assert {t: env[f"{t.upper()}_TABLE"] for t in TABLES} == tables
    assert env["CHUNK_BUCKET"] == resources.local_bucket_name(served)
    changes = next(q for q in resources.queue_definitions(served) if q.logical_id == "ChangesQueue")
    assert env["CHANGES_QUEUE_NAME"] == changes.name
    assert env["DRIFTBOX_STAGE"] == stage


def test_every_function_of_the_app_is_named_here() -> None:
    from app import app

    events = {to_cfn_resource_name(source.name) for source in app.event_sources}
    websocket = {"WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect"}
    assert {"APIHandler", *events, *websocket} == set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_takes_resource_names_from_the_template(
    template: dict[str, Any], function: str
) -> None:
    variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    table_ids = {table.name: table.logical_id for table in resources.table_definitions("any")}
    for name in TABLES:
        assert variables[f"{name.upper()}_TABLE"] == {"Ref": table_ids[f"driftbox-any-{name}"]}
    assert variables["CHUNK_BUCKET"] == {"Ref": "ChunkBucket"}
    assert variables["CHANGES_QUEUE_NAME"] == {"Fn::GetAtt": ["ChangesQueue", "QueueName"]}
    assert variables["DRIFTBOX_STAGE"] == {"Ref": "Stage"}
    # Whatever a stage of config.json sets, save Powertools' names, is replaced when deployed:
    # a local URL or another stage's table can never reach AWS. (The local stage is never packaged.)
    deployable = [stage for name, stage in CONFIG["stages"].items() if name not in RESOURCES_OF]
    configured = {name for stage in deployable for name in stage["environment_variables"]}
    assert configured - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} <= set(variables)


def test_the_fan_out_gets_the_deployed_websocket_urls(template: dict[str, Any]) -> None:
    for function in ("APIHandler", "OnChange"):
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["WEBSOCKET_MANAGEMENT_URL"]["Fn::Sub"].startswith(
            "https://${WebsocketAPI}.execute-api."
        )
        assert variables["NOTIFY_URL"]["Fn::Sub"].startswith("wss://${WebsocketAPI}.execute-api.")


def test_the_sqs_event_source_reports_batch_item_failures_from_the_templates_queue(
    template: dict[str, Any],
) -> None:
    source = template["Resources"]["OnChange"]["Properties"]["Events"]["OnChangeSqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Chalice emits the queue's ARN as a Fn::Sub: the override must use the same key to replace it.
    assert source["Queue"] == {"Fn::Sub": "${ChangesQueue.Arn}"}


def test_the_changes_queue_outlasts_six_function_timeouts_and_has_a_dead_letter_queue() -> None:
    stage = CONFIG["stages"][PACKAGED_STAGE]
    queues = {q.logical_id: q for q in resources.queue_definitions(PACKAGED_STAGE)}
    changes = queues["ChangesQueue"]
    assert int(changes.attributes["VisibilityTimeout"]) >= 6 * int(stage["lambda_timeout"])
    assert changes.dead_letter_queue in queues
    assert changes.max_receive_count is not None and changes.max_receive_count > 1


def test_the_outputs_name_every_table_the_bucket_and_the_queues(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    for table in resources.table_definitions("any"):
        assert outputs[f"{table.logical_id}Name"]["Value"] == {"Ref": table.logical_id}
    assert outputs["ChunkBucketName"]["Value"] == {"Ref": "ChunkBucket"}
    for queue in ("ChangesQueue", "ChangesDeadLetterQueue"):
        assert outputs[f"{queue}Url"]["Value"] == {"Ref": queue}
        assert outputs[f"{queue}Arn"]["Value"] == {"Fn::GetAtt": [queue, "Arn"]}


def test_locally_the_bucket_is_named_without_the_account_and_region(template: dict[str, Any]) -> None:
    deployed = template["Resources"]["ChunkBucket"]["Properties"]["BucketName"]["Fn::Sub"]
    assert deployed == "driftbox-${Stage}-chunks" + resources.GLOBAL_BUCKET_SUFFIX
    assert resources.local_bucket_name("test") == "driftbox-test-chunks" == SETTINGS.chunk_bucket
    assert resources.local_bucket_name("dev") == "driftbox-dev-chunks"


def test_a_bucket_name_without_the_uniqueness_suffix_is_refused(
    tmp_path: Path, template: dict[str, Any]
) -> None:
    doc = copy.deepcopy(template)
    doc["Resources"]["ChunkBucket"]["Properties"]["BucketName"] = {"Fn::Sub": "driftbox-${Stage}-chunks"}
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ValueError, match="must be a Fn::Sub ending in"):
        resources.local_bucket_name("test", path)


@pytest.mark.parametrize("stage", ["", "Prod", "dev_1", "a-stage-name-too-long"])
def test_a_stage_the_template_would_refuse_is_refused_locally(stage: str) -> None:
    with pytest.raises(ValueError, match="does not match"):
        resources.table_definitions(stage)


def test_resolve_substitutes_known_names_and_keeps_escaped_ones() -> None:
    values = {"Stage": "dev", "AWS::Region": "eu-west-1"}
    assert (
        resources.resolve({"Fn::Sub": "driftbox-${Stage}-${AWS::Region}"}, values) == "driftbox-dev-eu-west-1"
    )
    assert resources.resolve({"Fn::Sub": "${!Stage}"}, values) == "${Stage}"
    assert resources.resolve({"Ref": "Stage"}, values) == "dev"
    with pytest.raises(ValueError, match="cannot resolve"):
        resources.resolve({"Fn::Sub": "${ChunkBucket.Arn}"}, values)
    with pytest.raises(ValueError, match="cannot resolve"):
        resources.resolve({"Fn::GetAtt": ["ChangesQueue", "Arn"]}, values)
