"""Settings for a process that serves the sandbox alone (the bench's stand-in for the
APIs, `gunicorn sandbox.wsgi`): the project's settings with the sandbox's URLs only and
the middleware whose effect its machine endpoints show.

Every sandbox request ran the app's whole stack (sessions, CSRF, OTP, login, two-factor,
PHI audit, idle logoff, htmx, axes: 19 middleware) and resolved its path through the app's
every URL, for endpoints that are csrf_exempt and login_not_required and never read a
user. What the engines see stays the same to the byte: the middleware kept here are the
ones that set a header on these answers (the request id, the security headers, the CSP,
Content-Length, X-Frame-Options, and `Vary: Cookie`, which the full stack adds because
its middleware ask whether the anonymous user is signed in, reading the empty session),
and the ones that refuse bad input (tests/sandbox/test_server.py compares the answers of
both stacks). The Smart desk page, which needs a signed-in admin, is not served here.
"""

from django.core.exceptions import ImproperlyConfigured

from revcycle.settings import *  # noqa: F403
from revcycle.settings import DATABASES as APP_DATABASES
from revcycle.settings import SANDBOX_ENABLED

if not SANDBOX_ENABLED:
    raise ImproperlyConfigured("sandbox.server_settings serves the sandbox: set SANDBOX_ENABLED=1")

ROOT_URLCONF = "sandbox.server_urls"

# The order of revcycle.settings.MIDDLEWARE, less what these endpoints never use.
MIDDLEWARE = [
    "revcycle.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "revcycle.inputs.BadInputMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Asks whether the (anonymous) user is signed in, which reads the empty session: the
    # full stack's answers carry `Vary: Cookie` for that reason, and so do these.
    "revcycle.middleware.NoStoreMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# A pool (the bench's PostgreSQL sandbox) checks every connection it lends with a round
# trip of its own, once a request; the stand-in skips it (a connection the server dropped
# fails one request). New dicts: importing this module must not change the app's settings.
DATABASES = {**APP_DATABASES,
             "default": {**APP_DATABASES["default"], "CONN_HEALTH_CHECKS": False}}
