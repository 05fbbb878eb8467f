"""The image's HEALTHCHECK: GET /healthz of the service this container runs, on its own port.

Standard library only, so the check needs neither curl nor the service's settings: the service is
`HLM360_SERVICE` (set by the image's `SERVICE` build argument), its port `<SERVICE>_HTTP_PORT` or the
port every runner gives it (deploy/local/services.sh). Exit 0 when the answer is 200, else 1.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

PORTS = {
    "invitations": 8101,
    "ratings": 8102,
    "reports": 8103,
    "scheduling": 8104,
    "console": 8105,
    "observations": 8106,
}


def main() -> int:
    service = os.environ.get("HLM360_SERVICE", "")
    if service not in PORTS:
        sys.stderr.write(f"HLM360_SERVICE must be one of {', '.join(PORTS)}\n")
        return 1
    port = int(os.environ.get(f"{service.upper()}_HTTP_PORT", PORTS[service]))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
            return 0 if answer.status == 200 else 1
    except (OSError, urllib.error.URLError) as failure:
        sys.stderr.write(f"{service}: /healthz did not answer 200: {failure}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
