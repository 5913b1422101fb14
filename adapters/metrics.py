"""What the service counts for Prometheus, as the process's own (Prometheus sums processes).

Here, below every layer that counts: the group committer is an adapter, the media
service counts uploads. What the log or the views already hold is not counted: it is
read when scraped (adapters/metric_reads.py, for api/http/metrics.py).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

GROUP_COMMIT_BATCH = Histogram(
    "callvault_group_commit_batch_commands",
    "Commands that shared one group-commit transaction",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
UPLOADS = Counter("callvault_media_uploads", "Media bodies stored (retries of a stored body not counted)", ["kind"])
UPLOAD_BYTES = Counter("callvault_media_uploaded_bytes", "Bytes of media bodies stored", ["kind"])
REFUSED_UPLOADS = Counter(
    "callvault_media_uploads_refused", "Media bodies refused, by the error that refused them", ["kind", "reason"]
)


def stored_upload(kind: str, size: int) -> None:
    UPLOADS.labels(kind).inc()
    UPLOAD_BYTES.labels(kind).inc(size)


def refused_upload(kind: str, refusal: Exception) -> None:
    REFUSED_UPLOADS.labels(kind, type(refusal).__name__).inc()
