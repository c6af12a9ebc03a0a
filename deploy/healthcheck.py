"""Container health check: exit 0 if the server answers 2xx on PATH (default /healthz).

    python deploy/healthcheck.py [PATH [PORT]] [--ready]

Used by the image's HEALTHCHECK (/healthz: the process is alive), by compose.yaml
(/readyz: the database and the code runner are ready) and, with the runner's port (8100), by
the runner service of compose.scale.yaml and deploy/k8s: the runner's /healthz always answers
200 and says in its body whether it is ready, so `--ready` also asks for `"ready": true` there
(a runner whose kernel allows no sandbox stays up, says why, and is never ready). Standard
library only, so that it runs in the image without the app being importable, and quickly.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request


def check(path: str, port: int, timeout: float = 4.0, *, ready: bool = False) -> bool:
    """Whether http://127.0.0.1:PORT/PATH answers with a 2xx status within `timeout` (and,
    with `ready`, a JSON object whose "ready" is true)."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                return False
            if not ready:
                return True
            body = json.loads(response.read())
            return isinstance(body, dict) and body.get("ready") is True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str]) -> int:
    ready = "--ready" in argv
    args = [a for a in argv[1:] if a != "--ready"]
    path = args[0] if args else "/healthz"
    # By default the same variable the server reads for its port (Settings.port).
    port = int(args[1]) if len(args) > 1 else int(os.environ.get("TORCHQUIZ_PORT", "8000"))
    return 0 if check(path, port, ready=ready) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
