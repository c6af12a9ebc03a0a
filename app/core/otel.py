"""OpenTelemetry traces, optional by configuration: one span per request (FastAPI's own
instrumentation, on the tracer provider made here) sent by OTLP over HTTP to
TORCHQUIZ_OTEL_ENDPOINT, or else the standard OTEL_EXPORTER_OTLP_ENDPOINT.

Unset (the default), nothing of OpenTelemetry's SDK is imported and FastAPI's instrumentation
is off: no cost per request. Set without the packages (the `otel` extra: the SDK and the OTLP
exporter), the app refuses to start and says what to install: an operator who asked for
traces must not find out weeks later that none were sent.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

from fastapi.telemetry import TelemetryConfig

from app.core.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

SERVICE_NAME = "torchquiz"
NEEDED = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
OFF = TelemetryConfig(tracing=False, metrics=False, logs=False, auto_configure=False)


class OtelUnavailableError(RuntimeError):
    """Traces asked for, but the packages that send them are not installed."""


def endpoint(settings: Settings) -> str:
    return settings.otel_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")


def check(settings: Settings) -> None:
    """Raise OtelUnavailableError, naming the extra, if traces are asked for and cannot go."""
    if not endpoint(settings):
        return
    missing = [name for name in NEEDED if not _installed(name)]
    if missing:
        raise OtelUnavailableError(
            "TORCHQUIZ_OTEL_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT) is set, but "
            f"{', '.join(missing)} is not installed: pip install 'torchquiz[otel]', "
            "or unset the endpoint"
        )


def telemetry(settings: Settings, exporter: SpanExporter | None = None) -> TelemetryConfig:
    """FastAPI's `telemetry` configuration: traces to the endpoint (or to `exporter`, which
    tests give), on a provider of this app's own; everything off when no endpoint is set.
    Metrics stay Prometheus' (/metrics) and logs stderr's (app.core.logs)."""
    url = endpoint(settings)
    if exporter is None and not url:
        return OFF.copy()
    if exporter is None:
        check(settings)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=traces_url(url))
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    config = OFF.copy()
    config["tracing"], config["tracer_provider"] = True, provider
    return config


def traces_url(url: str) -> str:
    """The OTLP/HTTP traces path under a collector's base URL, as the standard variable means
    it (a URL already ending in /v1/traces is kept)."""
    url = url.rstrip("/")
    return url if url.endswith("/v1/traces") else f"{url}/v1/traces"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False
