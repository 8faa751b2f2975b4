"""The context object Lambda's Python runtime passes to a handler, for handlers the local stack calls."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field

# moto's default account, so ARNs look like the ones its other services hand out.
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class LambdaContext:
    """The attributes and the one method handlers use; ``client_context`` and ``identity`` stay None."""

    function_name: str
    invoked_function_arn: str
    # A string, as in Lambda's Python runtime, which reads it from the environment.
    memory_limit_in_mb: str
    log_group_name: str
    log_stream_name: str
    deadline_s: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    client_context: None = None
    identity: None = None

    @classmethod
    def for_function(
        cls, function_name: str, *, timeout_s: float = 60, memory_mb: int = 128, region: str | None = None
    ) -> LambdaContext:
        """A fresh context for one invocation of ``function_name``; the clock starts now."""
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        return cls(
            function_name=function_name,
            invoked_function_arn=f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}",
            memory_limit_in_mb=str(memory_mb),
            log_group_name=f"/aws/lambda/{function_name}",
            log_stream_name=time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex,
            deadline_s=time.monotonic() + timeout_s,
        )

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_s - time.monotonic()) * 1000))
