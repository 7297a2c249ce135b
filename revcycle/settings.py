"""Settings for revcycle, read from the environment.

DEBUG is off unless DEBUG=1 is set; the demo, the tests and local development set it, and
with it the other values default to what is safe for the demo on one machine. Production
sets SECRET_KEY, FIELD_ENCRYPTION_KEYS, DATABASE_URL and ALLOWED_HOSTS.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("REVCYCLE_VAR_DIR", BASE_DIR / "var"))


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def envfloat(name: str, default: str) -> float:
    value = os.environ.get(name, default)
    try:
        return float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from exc


def envsecret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Off unless the environment turns it on: with DEBUG on, error pages show local variables
# (secrets included). `make demo`, `make test` and tests/settings.py turn it on.
DEBUG = envbool("DEBUG", "0")
# The demo key is only usable with DEBUG on; production must set its own.
_DEMO_SECRET = "insecure-demo-key-only-for-local-use-never-in-production-0123456789"
SECRET_KEY = envsecret("SECRET_KEY", _DEMO_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DEBUG is off (for local development set DEBUG=1)")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

# Fernet keys, newest first: the first encrypts, all of them decrypt, so a key can rotate.
# The demo keys are derived from the demo secret so a fresh checkout works at once.
_DEMO_FIELD_KEY = "ZGVtby1rZXktZm9yLWxvY2FsLXVzZS1vbmx5LTAwMDE="
FIELD_ENCRYPTION_KEYS = envlist(
    "FIELD_ENCRYPTION_KEYS", envsecret("FIELD_ENCRYPTION_KEY", _DEMO_FIELD_KEY if DEBUG else "")
)
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off")
# Keyed HMAC for blind indexes (lookups by SSN or member id without decrypting).
BLIND_INDEX_KEY = envsecret("BLIND_INDEX_KEY", SECRET_KEY)

SANDBOX_ENABLED = envbool("SANDBOX_ENABLED", "1" if DEBUG else "0")
# oauthlib refuses token requests over plain HTTP. The sandbox is served over plain HTTP on
# loopback, so allow it there only; production (DEBUG off, no sandbox) keeps the check.
if SANDBOX_ENABLED and DEBUG:
    os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_q",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "revcycle",
    "integrex",
    "claims",
    "payer",
    "eligibility",
    "smartlink",
    "followup",
]
if SANDBOX_ENABLED:
    # Ahead of whitenoise's runserver so the sandbox's runserver, which keeps a DEBUG
    # server on loopback, is the one Django picks (the first app to define a command wins).
    INSTALLED_APPS.insert(INSTALLED_APPS.index("whitenoise.runserver_nostatic"), "sandbox")

MIDDLEWARE = [
    # First, so every line logged during a request carries its id.
    "revcycle.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF and the views: a NUL in a parameter is a 400, a path id past 2^63 a 404.
    "revcycle.inputs.BadInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "revcycle.middleware.HtmxLoginRedirectMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Admins and managers verify a second factor before any page (revcycle/twofactor.py).
    "revcycle.middleware.TwoFactorMiddleware",
    # Signed-in pages hold PHI: no browser or proxy may keep a copy.
    "revcycle.middleware.NoStoreMiddleware",
    # Every read of a PHI page needs its permission and leaves an audit row.
    "revcycle.middleware.PhiAccessMiddleware",
    # After the messages middleware: it tells the person why they were signed out.
    "revcycle.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "revcycle.urls"
WSGI_APPLICATION = "revcycle.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "revcycle.context_processors.navigation",
                "revcycle.context_processors.flagged",
                "revcycle.context_processors.engine_status",
                "revcycle.context_processors.session_timeout",
                "followup.context_processors.connection_trouble",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
# The image collects static files at build time into a directory of its own, outside the
# writable VAR_DIR volume.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when STATIC_ROOT is missing
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'revcycle.sqlite3'}"),
        conn_max_age=envint("CONN_MAX_AGE", "0"),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A web process and a worker write at once: WAL lets readers go on during a write,
    # IMMEDIATE takes the write lock at BEGIN so a transaction never fails half-way with
    # "database is locked", and the busy timeout makes writers queue instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

# Django 5.2's psycopg connection pool, one per process: instead of a connection per
# request (CONN_MAX_AGE=0), requests and engine threads borrow one. Each engine thread
# keeps its connection while it lives, so the pool must hold ENGINE_THREADS + 1 at least.
if envbool("DATABASE_POOL", "0"):
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_POOL=1 needs PostgreSQL (DATABASE_URL)")
    if DATABASES["default"].get("CONN_MAX_AGE"):
        raise ImproperlyConfigured("DATABASE_POOL=1 cannot be combined with CONN_MAX_AGE")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2, "max_size": envint("DATABASE_POOL_MAX_SIZE", "32"), "timeout": 10}

# The engine's statements run at every step are prepared once per connection on PostgreSQL
# (revcycle/prepared.py). Turn off behind a pooler in transaction mode that does not keep
# prepared statements (PgBouncer before 1.21).
DATABASE_PREPARED_STATEMENTS = envbool("DATABASE_PREPARED_STATEMENTS", "1")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "revcycle.auth_backends.ModelBackendOneQuery",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after 15 minutes without a request of the user's own (HIPAA automatic
# logoff; polls do not count), and 12 hours after sign-in whatever the activity. The page
# warns SESSION_IDLE_NOTICE seconds before the idle end.
SESSION_IDLE_TIMEOUT = envint("SESSION_IDLE_TIMEOUT", "900")
SESSION_ABSOLUTE_LIFETIME = envint("SESSION_ABSOLUTE_LIFETIME", "43200")
SESSION_IDLE_NOTICE = envint("SESSION_IDLE_NOTICE", "120")
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", "43200")
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie; the token travels in hx-headers

# Flash messages can name a patient: keep them server-side, never in a readable cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Behind a reverse proxy (BEHIND_PROXY=1) the client's address is read from X-Forwarded-For,
# counting TRUSTED_PROXY_COUNT proxies from the right; otherwise the header is ignored, as
# anyone can send it. Both the lockout and the audit log use revcycle.clientip.
BEHIND_PROXY = envbool("BEHIND_PROXY", "0")
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "1")

# Throttle failed logins: 5 failures lock the username+address pair, and 5 failures of one
# username from any addresses lock the username too (a guesser spreading attempts over many
# addresses); both for 15 minutes. axes counts each combination and locks on the largest.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = envint("AXES_COOLOFF_MINUTES", "15") / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_CLIENT_IP_CALLABLE = "revcycle.clientip.client_ip"

# Two-factor authentication (revcycle/twofactor.py): the name authenticator apps show.
OTP_TOTP_ISSUER = "revcycle"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLED = envbool("AXES_ENABLED", "1")

# Security headers; with DEBUG off these make `check --deploy` clean.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "0" if DEBUG else "1")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content Security Policy (django-csp 4, csp.middleware.CSPMiddleware): enforced, the same in
# tests and production. No template carries inline script or style (tests/security and
# tests/e2e/test_csp.py), so nothing here needs 'unsafe-inline'; the admin passes it too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}
# Health checks come from the container or a monitor on the machine, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True
# Dates read 2026-10-01 and 2026-10-01 14:05 on every page (revcycle/formats/en/formats.py).
FORMAT_MODULE_PATH = ["revcycle.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "revcycle@localhost")

# Uploads: a CSV of 100,000 rows is about 20 MB. A file over UPLOAD_MAX_BYTES is skipped
# as it arrives (revcycle/uploads.py) and refused with a message; a file over
# FILE_UPLOAD_MAX_MEMORY_SIZE is spooled to a temporary file (deleted when the request
# ends), never held in memory, and read as a stream (csvio.read_upload).
UPLOAD_MAX_BYTES = envint("UPLOAD_MAX_BYTES", str(25 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # a body without its files (a JSON webhook)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2621440  # Django's default, 2.5 MB
FILE_UPLOAD_HANDLERS = [
    "revcycle.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
MAX_BATCH_ROWS = envint("MAX_BATCH_ROWS", "100000")
# A file over this is read by a django-q2 worker, not in the request (batches.start_reading):
# 1 MB is about 5,000 rows of the claim-status template, a few seconds of reading.
UPLOAD_BACKGROUND_BYTES = envint("UPLOAD_BACKGROUND_BYTES", str(1024 * 1024))

# The ticket engine (revcycle/engine.py).
ENGINE_THREADS = envint("ENGINE_THREADS", "16")
ENGINE_LEASE_SECONDS = envint("ENGINE_LEASE_SECONDS", "60")
ENGINE_MAX_TICKET_AGE = envint("ENGINE_MAX_TICKET_AGE", str(6 * 3600))
# /healthz fails when no engine has beaten for this long (an engine beats every 2 s).
HEALTHZ_HEARTBEAT_SECONDS = envint("HEALTHZ_HEARTBEAT_SECONDS", "60")
HTTP_CONNECT_TIMEOUT = envfloat("HTTP_CONNECT_TIMEOUT", "5")
HTTP_READ_TIMEOUT = envfloat("HTTP_READ_TIMEOUT", "30")
HTTP_RETRIES = envint("HTTP_RETRIES", "2")

# django-q2 runs the schedules and one-off jobs (the engine is `manage.py engine`). Its
# broker is the ORM, so SQLite and PostgreSQL both work with no other server; with several
# machines, Q_BROKER=redis://host:6379/0 moves the queue to Redis. `retry` must exceed
# `timeout` and the longest task, or a running task is handed out again
# (docs/pitfalls.md, "django-q2").
Q_BROKER = os.environ.get("Q_BROKER", "orm")
Q_CLUSTER: dict[str, object] = {
    "name": "revcycle",
    "workers": envint("Q_WORKERS", "2"),
    "timeout": 600,
    "retry": 660,
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": 1000,
    "poll": 0.5,
    "catch_up": False,
    "label": "Background jobs",
}
if Q_BROKER == "orm":
    Q_CLUSTER["orm"] = "default"  # never another alias (PITFALLS.md, django-q2 #293)
elif Q_BROKER.startswith(("redis://", "rediss://", "unix://")):
    Q_CLUSTER["redis"] = Q_BROKER  # django-q2 takes a URL as well as a dict
else:
    raise ImproperlyConfigured(f"Q_BROKER must be orm or a redis:// URL, not {Q_BROKER!r}")

LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "revcycle.logs.RequestIdFilter"},
        # Keeps PHI out of every line, whatever the format (PITFALLS.md).
        "phi": {"()": "revcycle.logfilters.RedactPHI"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "revcycle.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id", "phi"],
                    "formatter": LOG_FORMAT}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # OAuth2Session logs whole tokens at DEBUG (docs/pitfalls.md, "OAuth").
        "requests_oauthlib": {"level": "INFO"},
        "oauthlib": {"level": "INFO"},
        "urllib3": {"level": "WARNING"},
        "django_q": {"level": os.environ.get("Q_LOG_LEVEL", "WARNING")},
        "axes": {"level": "WARNING"},
    },
}
