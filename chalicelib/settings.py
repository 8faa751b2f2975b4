"""The only reader of environment variables: one frozen Settings, validated once at import."""

from __future__ import annotations

import os
from dataclasses import dataclass

TABLES = (
    "users",
    "emails",
    "devices",
    "tokens",
    "throttle",
    "memberships",
    "namespaces",
    "paths",
    "revisions",
    "journal",
    "chunks",
    "offers",
    "idempotency",
    "connections",
)


# The stages that run on this machine (make run, chalice local): only ever against the emulator.
LOCAL_STAGES = ("dev", "local")


class SettingsError(RuntimeError):
    """The environment cannot run the backend; the message names every variable at fault."""


@dataclass(frozen=True)
class Settings:
    region: str
    stage: str
    users_table: str
    emails_table: str
    devices_table: str
    tokens_table: str
    throttle_table: str
    memberships_table: str
    namespaces_table: str
    paths_table: str
    revisions_table: str
    journal_table: str
    chunks_table: str
    offers_table: str
    idempotency_table: str
    connections_table: str
    chunk_bucket: str
    changes_queue_name: str
    notify_url: str
    websocket_management_url: str
    token_ttl_s: int
    presign_ttl_s: int
    argon2_time_cost: int
    argon2_memory_kib: int
    argon2_parallelism: int
    login_free_failures: int
    login_account_free_failures: int
    login_max_delay_s: int
    default_quota_bytes: int
    max_body_bytes: int
    max_offered_bytes: int
    longpoll_max_s: int
    longpoll_max_waiters: int
    longpoll_max_waiters_per_user: int

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str] = os.environ) -> Settings:
        missing: list[str] = []

        def text(name: str, default: str | None = None) -> str:
            value = env.get(name, default)
            if value is None or value == "":
                missing.append(name)
                return ""
            return value

        def number(name: str, default: int) -> int:
            raw = env.get(name)
            try:
                value = default if raw in (None, "") else int(raw)  # type: ignore[arg-type]
            except ValueError as exc:
                raise SettingsError(f"environment variable {name} must be a whole number") from exc
            if value <= 0:
                raise SettingsError(f"environment variable {name} must be positive")
            return value

        tables = {f"{t}_table": text(f"{t.upper()}_TABLE") for t in TABLES}
        settings = cls(
            region=text("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1")),
            stage=text("DRIFTBOX_STAGE", "dev"),
            chunk_bucket=text("CHUNK_BUCKET"),
            changes_queue_name=env.get("CHANGES_QUEUE_NAME", ""),
            notify_url=env.get("NOTIFY_URL", ""),
            # Where the @connections API is; empty means "the gateway the event came through".
            websocket_management_url=env.get("WEBSOCKET_MANAGEMENT_URL", ""),
            # OWASP's argon2id setting: m=19 MiB, t=2, p=1.
            argon2_time_cost=number("ARGON2_TIME_COST", 2),
            argon2_memory_kib=number("ARGON2_MEMORY_KIB", 19 * 1024),
            argon2_parallelism=number("ARGON2_PARALLELISM", 1),
            token_ttl_s=number("TOKEN_TTL_S", 90 * 24 * 3600),
            presign_ttl_s=min(number("PRESIGN_TTL_S", 900), 900),
            # Failed logins before each further one doubles the wait: per (email, source), and per
            # email from sources with no recent login (NIST 800-63B allows at most 100 in a row).
            login_free_failures=number("LOGIN_FREE_FAILURES", 5),
            login_account_free_failures=number("LOGIN_ACCOUNT_FREE_FAILURES", 20),
            login_max_delay_s=number("LOGIN_MAX_DELAY_S", 900),
            default_quota_bytes=number("DEFAULT_QUOTA_BYTES", 2 * 1024**4),
            max_body_bytes=number("MAX_BODY_BYTES", 6 * 1024 * 1024),
            # Per namespace, on live presigned PUTs not yet committed: two full upload requests.
            max_offered_bytes=number("MAX_OFFERED_BYTES", 8 * 1024**3),
            longpoll_max_s=min(number("LONGPOLL_MAX_S", 25), 28),
            # Each waiting long-poll holds a Lambda: leave most of the account's 1,000 for the rest.
            longpoll_max_waiters=number("LONGPOLL_MAX_WAITERS", 400),
            # A user's share of them: a device or two per namespace, never everyone's seats.
            longpoll_max_waiters_per_user=number("LONGPOLL_MAX_WAITERS_PER_USER", 10),
            **tables,
        )
        if missing:
            raise SettingsError(
                f"environment variables not set: {', '.join(missing)} (each stage in .chalice/config.json "
                "sets them: `chalice local --stage local`, `make run`, or a deployed stage)"
            )
        _check_endpoint(env)
        return settings


def _check_endpoint(env: dict[str, str] | os._Environ[str]) -> None:
    """A local stage never falls through to the AWS account the machine's credentials open."""
    stage = env.get("DRIFTBOX_STAGE", "")
    if stage in LOCAL_STAGES and not any(k.startswith("AWS_ENDPOINT_URL") and v for k, v in env.items()):
        raise SettingsError(
            f"DRIFTBOX_STAGE={stage} runs against the local stack's emulator only, and AWS_ENDPOINT_URL "
            "is not set: start the stack with `make run` (it sets it), and serve the app beside it with "
            "`make dev` (chalice local --stage local, restarted on each edit)"
        )


SETTINGS = Settings.from_env()
