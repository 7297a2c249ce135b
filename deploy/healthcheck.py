"""The container's HEALTHCHECK: GET /healthz on this machine, exit 0 on 200, else 1.

Standard library only and no Django start-up, so it is cheap every 30 s. The Host header is
the first of ALLOWED_HOSTS, which Django would otherwise refuse with a 400."""

import os
import sys
import urllib.error
import urllib.request

port = os.environ.get("PORT", "8000")
hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost").split(",") if h.strip()]
host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host})
try:
    with urllib.request.urlopen(request, timeout=5) as response:
        sys.exit(0 if response.status == 200 else 1)
except (urllib.error.URLError, OSError) as exc:
    print(f"healthz: {exc}", file=sys.stderr)
    sys.exit(1)
