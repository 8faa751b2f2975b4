"""What the packaged functions may do: a role each, reserved concurrency, throttled and logged APIs.

Chalice's own application graph for the packaged stage says which role, log group and reserved
concurrency each function gets; infra/template.yaml says what each role allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.cli.factory import CLIFactory
from chalice.deploy import models
from chalice.deploy.appgraph import ApplicationGraphBuilder, DependencyBuilder
from chalice.utils import to_cfn_resource_name

from infra.local import resources
from tests.unit.test_template import FUNCTIONS, PACKAGED_STAGE, PROJECT_DIR

# The account's default concurrency, and what Lambda keeps unreserved for every other function.
ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MINIMUM = 100
# The Python runtimes AWS Lambda supports beyond 2027 (python3.11 is deprecated in June 2027).
RUNTIMES_BEYOND_2027 = {"python3.12", "python3.13", "python3.14"}
WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return resources.load()


@pytest.fixture(scope="module")
def functions() -> dict[str, models.LambdaFunction]:
    """The packaged stage's functions by CloudFormation name, as `chalice package` builds them."""
    config = CLIFactory(project_dir=str(PROJECT_DIR)).create_config_obj(chalice_stage_name=PACKAGED_STAGE)
    application = ApplicationGraphBuilder().build(config, PACKAGED_STAGE)
    found = [
        r for r in DependencyBuilder().build_dependencies(application) if isinstance(r, models.LambdaFunction)
    ]
    # Chalice renames the REST handler's resource (ApiHandler) to APIHandler.
    return {
        "APIHandler" if f.resource_name == "api_handler" else to_cfn_resource_name(f.resource_name): f
        for f in found
    }


def _role_name(function: models.LambdaFunction) -> str:
    assert isinstance(function.role, models.ManagedIAMRole)
    return to_cfn_resource_name(function.role.resource_name)


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    (policy,) = template["Resources"][role]["Properties"]["Policies"]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants(template: dict[str, Any], role: str) -> Iterator[tuple[str, str]]:
    """(action, resource) for every pair the role allows, resources as JSON."""
    for statement in _statements(template, role):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                yield action, json.dumps(resource, sort_keys=True)


def _table(logical_id: str) -> str:
    return json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)


def test_each_function_has_a_role_of_its_own_whose_policy_the_template_sets(
    template: dict[str, Any], functions: dict[str, models.LambdaFunction]
) -> None:
    assert set(functions) == set(FUNCTIONS)
    roles = {name: _role_name(f) for name, f in functions.items()}
    assert len(set(roles.values())) == len(FUNCTIONS), roles
    for role in roles.values():
        # Chalice's placeholder policy for these roles denies everything: the template's replaces it.
        assert template["Resources"][role]["Properties"]["Policies"][0]["PolicyName"] == f"{role}Policy"
        assert _statements(template, role)


def test_no_policy_allows_every_action_or_every_resource(
    template: dict[str, Any], functions: dict[str, models.LambdaFunction]
) -> None:
    for function in functions.values():
        for action, resource in _grants(template, _role_name(function)):
            assert "*" not in action, action
            assert resource != '"*"'
            assert ":*" not in action.split(":", 1)[0]
        for statement in _statements(template, _role_name(function)):
            assert "Scan" not in json.dumps(statement["Action"])
            assert "s3:DeleteObject" not in _as_list(statement["Action"])


def test_the_unauthenticated_connect_handler_reads_tokens_and_writes_its_socket_only(
    template: dict[str, Any], functions: dict[str, models.LambdaFunction]
) -> None:
    grants = set(_grants(template, _role_name(functions["WebsocketConnect"])))
    services = {action.split(":")[0] for action, _ in grants}
    assert services == {"logs", "dynamodb"}  # no S3, SQS or @connections
    tables = {(a, r) for a, r in grants if a.startswith("dynamodb:")}
    assert tables == {
        ("dynamodb:GetItem", _table("TokensTable")),
        ("dynamodb:PutItem", _table("ConnectionsTable")),
    }


def test_each_role_reaches_only_the_resources_its_handler_uses(
    template: dict[str, Any], functions: dict[str, models.LambdaFunction]
) -> None:
    def resources_of(function: str) -> set[str]:
        return {r for a, r in _grants(template, _role_name(functions[function])) if not a.startswith("logs:")}

    def written_tables(function: str) -> set[str]:
        return {r for a, r in _grants(template, _role_name(functions[function])) if a in WRITES}

    sockets_only = {_table("ConnectionsTable")}
    assert written_tables("WebsocketDisconnect") == written_tables("WebsocketMessage") == sockets_only
    assert resources_of("WebsocketDisconnect") == sockets_only
    assert written_tables("SweepOutbox") == {_table("NamespacesTable")}
    assert written_tables("OnChange") == {_table("ConnectionsTable"), _table("IdempotencyTable")}
    for function in (
        "OnChange",
        "SweepOutbox",
        "WebsocketConnect",
        "WebsocketMessage",
        "WebsocketDisconnect",
    ):
        assert not any("ChunkBucket" in r for r in resources_of(function)), function
    # Presigned PUTs act with the REST function's role: without s3:PutObject every upload is refused.
    api = set(_grants(template, _role_name(functions["APIHandler"])))
    objects = json.dumps({"Fn::Sub": "${ChunkBucket.Arn}/*"})
    assert {("s3:GetObject", objects), ("s3:PutObject", objects)} <= api
    tables = resources.table_definitions("any")
    assert {_table(t.logical_id) for t in tables} <= {r for _, r in api}
    # Only the worker pushes; the REST function only closes a revoked device's sockets.
    pushes = {r for a, r in api if a == "execute-api:ManageConnections"}
    assert [json.loads(r)["Fn::Sub"].split("/")[-3] for r in pushes] == ["DELETE"]


def test_each_log_group_is_the_functions_own_and_keeps_logs_for_a_bounded_time(
    template: dict[str, Any], functions: dict[str, models.LambdaFunction]
) -> None:
    for name, function in functions.items():
        assert function.log_group is not None, name
        assert 1 <= function.log_group.retention_in_days <= 365
        group = to_cfn_resource_name(function.log_group.resource_name)
        function_name = template["Resources"][name]["Properties"]["FunctionName"]["Fn::Sub"]
        assert template["Resources"][group]["Properties"]["LogGroupName"] == {
            "Fn::Sub": f"/aws/lambda/{function_name}"
        }
        (logs,) = [s for s in _statements(template, _role_name(function)) if s["Sid"] == "Logs"]
        assert logs["Resource"] == {"Fn::GetAtt": [group, "Arn"]}
    for access_logs in ("RestApiAccessLogs", "WebsocketAccessLogs"):
        assert 1 <= template["Resources"][access_logs]["Properties"]["RetentionInDays"] <= 365


def test_reserved_concurrency_leaves_every_function_lambdas_that_long_polls_cannot_take(
    template: dict[str, Any], functions: dict[str, models.LambdaFunction]
) -> None:
    reserved = {name: f.reserved_concurrency for name, f in functions.items()}
    assert all(isinstance(n, int) and n >= 1 for n in reserved.values()), reserved
    assert sum(reserved.values()) <= ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM  # type: ignore[arg-type]
    # Long-polls wait in the REST function (Chalice serves every route from one): their cap keeps
    # at least a third of its Lambdas for the other routes.
    variables = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    waiters = int(variables["LONGPOLL_MAX_WAITERS"])
    assert waiters <= 2 * reserved["APIHandler"] // 3  # type: ignore[operator]


def test_both_apis_are_throttled_and_log_every_request(template: dict[str, Any]) -> None:
    rest = template["Resources"]["RestAPI"]
    everything = [
        s for s in rest["Properties"]["MethodSettings"] if (s["ResourcePath"], s["HttpMethod"]) == ("/*", "*")
    ]
    assert (
        len(everything) == 1
        and everything[0]["ThrottlingRateLimit"] > 0
        and everything[0]["ThrottlingBurstLimit"] > 0
    )
    # A route's own setting must name a route of the app ("/" is "~1" in a resource path).
    from app import app

    routes = {s["ResourcePath"] for s in rest["Properties"]["MethodSettings"]} - {"/*"}
    assert routes
    assert {r.removeprefix("/").replace("~1", "/") for r in routes} <= set(app.routes)
    websocket = template["Resources"]["WebsocketAPIStage"]
    limits = websocket["Properties"]["DefaultRouteSettings"]
    assert limits["ThrottlingRateLimit"] > 0 and limits["ThrottlingBurstLimit"] > 0
    for api, setting, group in (
        (rest, "AccessLogSetting", "RestApiAccessLogs"),
        (websocket, "AccessLogSettings", "WebsocketAccessLogs"),
    ):
        access = api["Properties"][setting]
        assert access["DestinationArn"] == {"Fn::GetAtt": [group, "Arn"]}
        assert json.loads(access["Format"])["requestId"] == "$context.requestId"
        # API Gateway logs only once the account's CloudWatch role is set.
        assert api["DependsOn"] == "ApiGatewayAccount"
    assert template["Resources"]["ApiGatewayAccount"]["Type"] == "AWS::ApiGateway::Account"


def test_the_package_is_made_for_a_runtime_supported_beyond_2027() -> None:
    makefile = (PROJECT_DIR / "Makefile").read_text(encoding="utf-8")
    (runtime,) = re.findall(r"^LAMBDA_RUNTIME := (\S+)$", makefile, re.MULTILINE)
    assert runtime in RUNTIMES_BEYOND_2027
    # Chalice takes the runtime (and the wheels it vendors) from the Python it runs on.
    assert "$(LAMBDA_PYTHON) -m venv $(PACKAGE_VENV)" in makefile
    assert "$(PACKAGE_VENV)/bin/chalice package --stage prod" in makefile


def test_the_placeholder_policy_chalice_emits_denies_everything() -> None:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text(encoding="utf-8"))
    stage = config["stages"][PACKAGED_STAGE]
    placeholder = json.loads(
        (PROJECT_DIR / ".chalice" / stage["iam_policy_file"]).read_text(encoding="utf-8")
    )
    assert [s["Effect"] for s in placeholder["Statement"]] == ["Deny"]


def test_a_template_role_for_a_function_chalice_does_not_emit_is_caught(
    template: dict[str, Any], functions: dict[str, models.LambdaFunction]
) -> None:
    # The role names come from Chalice: a rename there leaves an override without a Type, which
    # the check above (and cfn-lint in make test) refuses.
    roles = {_role_name(f) for f in functions.values()}
    overridden = {k for k, v in template["Resources"].items() if k.endswith("Role") and "Type" not in v}
    assert overridden == roles
