"""How many bytes a namespace was offered presigned PUTs for and has not had granted since.

The count is kept per window of one URL lifetime (``PRESIGN_TTL_S``): a row per namespace and
window, added to when URLs are handed out and taken from when the chunks are granted (a commit
names them, or they are found stored). A URL handed out in window ``w`` is dead before window
``w + 2`` starts, so the current window's row and the last one's, summed, are every byte that can
still be sent on a live URL; older rows stop counting, then expire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.adapters import keys
from chalicelib.adapters.models import OfferedBytesModel


@dataclass(frozen=True)
class Reservation:
    admitted: bool
    offered_bytes: int  # live offered bytes of the namespace, this request's included if admitted


def window_of(now_s: float, window_s: int) -> int:
    return int(now_s // window_s)


def reserve(namespace_id: str, size_bytes: int, window: int, window_s: int, limit_bytes: int) -> Reservation:
    """Count ``size_bytes`` in for ``window`` unless the namespace's live offers would pass the limit.

    Added first and read back, so two requests at once can never both pass the limit (both may be
    refused; a retry then passes).
    """
    current = _add(namespace_id, window, size_bytes, window_s)
    try:
        last = OfferedBytesModel.get(keys.offered_bytes(namespace_id, window - 1), consistent_read=True)
        earlier = max(0, int(last.offered_bytes))
    except OfferedBytesModel.DoesNotExist:
        earlier = 0
    total = max(0, current) + earlier
    if total <= limit_bytes:
        return Reservation(True, total)
    _add(namespace_id, window, -size_bytes, window_s)
    return Reservation(False, total - size_bytes)


def release(namespace_id: str, bytes_by_window: dict[int, int], window_s: int) -> None:
    """Count out bytes granted since they were offered, from the windows they were counted in."""
    for window, size_bytes in bytes_by_window.items():
        if size_bytes:
            _add(namespace_id, window, -size_bytes, window_s)


def _add(namespace_id: str, window: int, delta: int, window_s: int) -> int:
    row = OfferedBytesModel(keys.offered_bytes(namespace_id, window))
    expires_at = datetime.fromtimestamp((window + 3) * window_s, UTC)
    row.update(
        actions=[OfferedBytesModel.offered_bytes.add(delta), OfferedBytesModel.expires_at.set(expires_at)]
    )
    return int(row.offered_bytes)
