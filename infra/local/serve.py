"""Run the whole backend on this machine: the AWS emulator with durable data, the resources from
infra/template.yaml, the REST API, the WebSocket gateway, the SQS event sources and the schedules.

python -m infra.local.serve [--data-dir DIR | --in-memory] [--host H] [--port 8000] [--ws-port 8001]
                            [--aws-port 5000] [--stage dev] [--schedule-every SECONDS]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = PROJECT_DIR / ".local-data"


def _stage_environment(project_dir: Path, stage: str) -> dict[str, str]:
    config = json.loads((project_dir / ".chalice" / "config.json").read_text())
    env: dict[str, str] = config["stages"][stage].get("environment_variables", {})
    return env


def _number(text: str, fits: Callable[[float], bool], what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and fits(value)):
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    return _number(text, lambda v: v > 0, "a positive number of seconds")


def _share(text: str) -> float:
    return _number(text, lambda v: 0 <= v < 1, "a share from 0 up to (not including) 1")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.serve", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="REST API port (default 8000)")
    parser.add_argument("--ws-port", type=int, default=8001, help="WebSocket gateway port (default 8001)")
    parser.add_argument("--aws-port", type=int, default=5000, help="AWS emulator port (default 5000)")
    parser.add_argument("--stage", default="dev", help="the Chalice stage whose settings to use")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where data is kept (default: .local-data)"
    )
    where.add_argument("--in-memory", action="store_true", help="keep nothing: all data is lost at stop")
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="don't fsync writes (survives a crash of this process, not of the machine)",
    )
    parser.add_argument(
        "--schedule-every",
        type=_positive_seconds,
        metavar="SECONDS",
        help="run every scheduled handler this often instead of its own rate",
    )
    parser.add_argument(
        "--ws-post-failure-rate",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="answer this share (0 to 1) of @connections POSTs with 500, as a failing API Gateway would "
        "(drawn from a fixed seed: a run repeats)",
    )
    parser.add_argument(
        "--aws-in-process",
        action="store_true",
        help="run the AWS emulator as one thread of this process, not as a process per service "
        "(slower; for counting its requests from inside)",
    )
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _environment(args: argparse.Namespace) -> dict[str, str]:
    """Point every AWS client of this process at the emulator; apply the stage's variables.

    Returns the variables that must win over the stage's (Chalice applies those again at load).
    """
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ["AWS_REGION"])
    os.environ["AWS_ENDPOINT_URL"] = f"http://{args.host}:{args.aws_port}"
    for service in ("S3", "DYNAMODB", "SQS"):  # set again if the services run apart (aws_services)
        os.environ.pop(f"AWS_ENDPOINT_URL_{service}", None)
    os.environ.update(_stage_environment(args.project_dir, args.stage))
    ports = {
        "WEBSOCKET_MANAGEMENT_URL": f"http://{args.host}:{args.ws_port}",
        "NOTIFY_URL": f"ws://{args.host}:{args.ws_port}",
    }
    os.environ.update(ports)
    return ports


def main(argv: list[str] | None = None) -> None:
    started = time.monotonic()
    # Ctrl-C (or SIGTERM) at any moment, even during start-up, ends in the orderly stop below.
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    args = _arguments(argv)
    ports = _environment(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for chatty in ("botocore", "boto3", "pynamodb", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)

    # Imported only now: the backend's modules read their settings at import.
    from chalice.cli.factory import CLIFactory
    from chalice.local import ChaliceRequestHandler, LocalDevServer

    from infra.local import aws_services, emulator, resources
    from infra.local.schedules import ScheduledEvents
    from infra.local.sqs_events import SqsEventSources
    from infra.local.websocket_gateway import Gateway

    class RequestHandler(ChaliceRequestHandler):
        # chalice local keeps connections alive and writes headers and body apart: with Nagle's
        # algorithm on, each response then waits for the client's delayed ACK (about 40 ms).
        disable_nagle_algorithm = True

        def __getattr__(self, name: str) -> Any:
            # http.server answers a method it has no do_<METHOD> for (TRACE, CONNECT, made-up ones)
            # with its own 501 page; the app answers them as it answers any method it does not
            # route, with a 4xx of its own.
            if name.startswith("do_"):
                return self._generic_handle
            raise AttributeError(name)

    with contextlib.ExitStack() as running:  # each part is stopped in reverse order of start
        data_dir = None if args.in_memory else args.data_dir.resolve()
        aws: emulator.Emulator | aws_services.Services
        if args.aws_in_process:
            aws = emulator.start(args.host, args.aws_port, data_dir=data_dir, fsync=not args.no_fsync)
        else:
            aws = aws_services.start(
                args.host,
                args.aws_port,
                data_dir=data_dir,
                fsync=not args.no_fsync,
                promised=(args.port, args.ws_port),
            )
            os.environ.update(aws.endpoints())
        running.callback(aws.stop)
        if aws.replayed is not None:
            r = aws.replayed
            replayed = f"{r.records} writes, {r.bytes / 1e6:.1f} MB, replayed in {r.seconds:.2f} s"
            print(f"Data           {data_dir} ({replayed})", flush=True)
        resources.create(args.stage, template=args.project_dir / "infra" / "template.yaml")

        factory = CLIFactory(str(args.project_dir), environ=os.environ)
        config = factory.create_config_obj(chalice_stage_name=args.stage)
        app = factory.load_chalice_app(environment_variables={**config.environment_variables, **ports})
        rest = LocalDevServer(app, config, args.host, args.port, handler_cls=RequestHandler)
        threading.Thread(target=rest.serve_forever, name="rest-api", daemon=True).start()
        running.callback(rest.shutdown)
        gateway = Gateway(
            app,
            host=args.host,
            port=args.ws_port,
            stage=args.stage,
            post_failure_rate=args.ws_post_failure_rate,
            seed=0,  # the same failures on every run, so that a test or a bench can be repeated
        )
        gateway.start()
        running.callback(gateway.stop)
        events = SqsEventSources(
            app,
            region=os.environ["AWS_REGION"],
            stage=args.stage,
            function_timeout_s=config.lambda_timeout or 60,
            memory_mb=config.lambda_memory_size or 128,
        )
        events.start()
        running.callback(events.stop)
        schedules = ScheduledEvents(
            app,
            region=os.environ["AWS_REGION"],
            stage=args.stage,
            function_timeout_s=config.lambda_timeout or 60,
            memory_mb=config.lambda_memory_size or 128,
            period_override_s=args.schedule_every,
        )
        schedules.start()
        running.callback(schedules.stop)

        print(f"REST API       http://{args.host}:{args.port}/v1", flush=True)
        print(f"WebSocket      {gateway.url}", flush=True)
        print(f"AWS emulator   {aws.url}", flush=True)
        if data_dir is None:
            print("Data           in memory only: everything is lost when this stops", flush=True)
        print(f"Ready in {time.monotonic() - started:.2f} s. Ctrl-C stops.", flush=True)
        stop.wait()
        print("Stopping...", flush=True)
    print("Stopped.", flush=True)


if __name__ == "__main__":
    main()
