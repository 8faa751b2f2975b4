"""Run the backend on this machine: the AWS emulator, its resources, and the REST API.

python -m infra.local.serve [--host 127.0.0.1] [--port 8000] [--aws-port 5000]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _stage_environment(stage: str) -> dict[str, str]:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    env: dict[str, str] = config["stages"][stage]["environment_variables"]
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="REST API port")
    parser.add_argument("--aws-port", type=int, default=5000, help="AWS emulator (moto) port")
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args()

    # Everything below talks to the emulator: set before any backend module reads its settings.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_ENDPOINT_URL"] = f"http://{args.host}:{args.aws_port}"
    for name, value in _stage_environment(args.stage).items():
        os.environ.setdefault(name, value)

    from chalice.cli.factory import CLIFactory

    from infra.local import emulator

    aws = emulator.start(args.host, args.aws_port)
    emulator.create_resources()
    factory = CLIFactory(str(PROJECT_DIR), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=args.stage)
    app = factory.load_chalice_app(environment_variables=config.environment_variables)
    server = factory.create_local_server(app, config, args.host, args.port)
    print(f"Driftbox API   http://{args.host}:{args.port}/v1", flush=True)
    print(f"AWS emulator   http://{args.host}:{args.aws_port}", flush=True)
    print("Ctrl-C stops.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        aws.stop()


if __name__ == "__main__":
    main()
