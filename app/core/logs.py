"""How the processes log: configured once at start (`torchquiz serve`, `torchquiz runner`), as
plain text for a terminal or as JSON, one object a line, for a log collector
(TORCHQUIZ_LOG_FORMAT). Every line carries the request id (app.core.request_ids) of the request
it was written for, so a collector can gather one request's lines from the app and the runner.

The configuration is a `logging.config.dictConfig` dictionary given to uvicorn (`log_config`):
uvicorn applies it in each process it starts, the workers of `serve --workers N` included.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
from datetime import UTC, datetime
from typing import Any, Literal

from app.core import request_ids

Format = Literal["text", "json"]
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# uvicorn's access records: (client address, method, path with query, HTTP version, status).
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object a record: time (UTC, ISO 8601), level, logger, message, request_id
    (null outside a request), and `exception` with the traceback's text when there is one.
    uvicorn's access lines also give their parts as fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_ids.current.get(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            line.update(zip(ACCESS_FIELDS, args, strict=True))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class RequestIdFilter(logging.Filter):
    """Text lines name their request too: `%(request_id)s` ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_ids.current.get() or "-"
        return True


def config(log_format: Format, level: str = "INFO") -> dict[str, Any]:
    """One handler (stderr) on the root logger, which every logger reaches, uvicorn's own
    included: their lines all take one format. Loggers that exist already keep working."""
    if log_format == "json":
        formatter: dict[str, Any] = {"()": JsonFormatter}
    else:
        formatter = {"format": TEXT.replace("%(message)s", "[%(request_id)s] %(message)s")}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"line": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        # uvicorn's loggers pass their records up to the root's handler instead of their own.
        "loggers": {
            **{
                name: {"level": level, "handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # httpx logs every request at INFO: the runner's health poll every 5 s, each run.
            "httpx": {"level": "WARNING"},
        },
    }


def configure(log_format: Format, level: str = "INFO") -> None:
    """Apply `config` to this process (for commands that log before or without uvicorn)."""
    logging.config.dictConfig(config(log_format, level))


def env_format() -> Format:
    """TORCHQUIZ_LOG_FORMAT, for `torchquiz runner`, which reads no app settings; anything
    but "json" is text."""
    return (
        "json" if os.environ.get("TORCHQUIZ_LOG_FORMAT", "").strip().lower() == "json" else "text"
    )
