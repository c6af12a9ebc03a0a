"""OpenTelemetry, optional by configuration: off (no tracer provider, none of the SDK's tracing
or exporters imported) unless an endpoint is set; spans per request when it is; a clear refusal
to start when it is set but the `otel` extra (the OTLP exporter) is not installed, as on this
machine: the dev extra holds the SDK only, which the span test needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from app.core import otel
from tests.conftest import make_settings
from tests.servers import PROJECT


def test_each_request_makes_a_span_named_by_its_route(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    config = otel.telemetry(make_settings("sqlite://", tmp_path), exporter=exporter)
    app = FastAPI(telemetry=config)

    @app.get("/items/{item_id}")
    def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    TestClient(app).get("/items/42")
    config["tracer_provider"].force_flush()  # type: ignore[union-attr]

    spans = exporter.get_finished_spans()
    names = [span.name for span in spans]
    assert "GET /items/{item_id}" in names
    assert spans[0].resource.attributes["service.name"] == "torchquiz"


def test_without_an_endpoint_tracing_is_off_and_nothing_of_it_imported(tmp_path: Path) -> None:
    """(redis-py imports the SDK's metrics, when installed, for its own observability.)"""
    assert otel.telemetry(make_settings("sqlite://", tmp_path))["tracing"] is False
    script = (
        "import sys; from app.main import create_app; create_app(); "
        "print([m for m in sys.modules if m.startswith(('opentelemetry.sdk.trace', "
        "'opentelemetry.exporter'))])"
    )
    env = {
        **os.environ,
        "TORCHQUIZ_INSTANCE_DIR": str(tmp_path),
        "TORCHQUIZ_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "TORCHQUIZ_OTEL_ENDPOINT": "",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    }
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, timeout=120
    )

    assert ran.stdout.decode().strip() == "[]", ran.stderr.decode()


def test_an_endpoint_without_the_otel_extra_is_refused_clearly(tmp_path: Path) -> None:
    settings = make_settings("sqlite://", tmp_path, otel_endpoint="http://127.0.0.1:4318")

    with pytest.raises(otel.OtelUnavailableError, match=r"pip install 'torchquiz\[otel\]'"):
        otel.telemetry(settings)


def test_serve_refuses_to_start_when_the_standard_endpoint_is_set_without_the_extra(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "TORCHQUIZ_INSTANCE_DIR": str(tmp_path),
        "TORCHQUIZ_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "TORCHQUIZ_RUNNER_URL": "off",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
    }
    ran = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", "1"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        timeout=120,
    )

    assert ran.returncode == 1
    said = ran.stderr.decode()
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in said and "torchquiz[otel]" in said
    assert "Traceback" not in said
