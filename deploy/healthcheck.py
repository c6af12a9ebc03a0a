"""Container health check: exit 0 if the server answers 2xx on PATH (default /healthz).

Used by the image's HEALTHCHECK (/healthz: the process is alive) and by compose.yaml
(/readyz: the database and the code runner are ready). Standard library only, so that it
runs in the image without the app being importable, and quickly.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def check(path: str, port: int, timeout: float = 4.0) -> bool:
    """Whether http://127.0.0.1:PORT/PATH answers with a 2xx status within `timeout`."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    # The same variable the server reads for its port (app.core.config.Settings.port).
    port = int(os.environ.get("TORCHQUIZ_PORT", "8000"))
    return 0 if check(path, port) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
