"""Accord settings, read from the environment.

Production differs from a laptop only by environment variables. Every variable goes through a
typed reader that raises ImproperlyConfigured with the variable's name, so a typo fails at
start-up instead of at the first request.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.judge_keys import env_judge_keys

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ACCORD_VAR_DIR", BASE_DIR / "var"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_rate(name: str, default: str) -> str:
    """A rate in DRF's syntax: a number of requests per second, minute, hour or day ("20/min")."""
    raw = os.environ.get(name, default).strip()
    number, _, period = raw.partition("/")
    if not number.isdigit() or not period or period[0] not in "smhd":
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate such as 20/min, 10/hour or 100/day.")
    return raw


DEBUG = env_bool("DEBUG", False)

# A laptop gets a key generated once into var/ so sessions survive restarts; anything running
# with DEBUG off must be given one, because a key on disk next to the code is a key in backups.
_INSECURE_KEYS = {"", "changeme", "change-me", "secret", "django-insecure"}
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY or SECRET_KEY in _INSECURE_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a long random value when DEBUG is off "
            "(for local development set DEBUG=1 and one is generated into var/secret_key)."
        )
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()
elif len(SECRET_KEY) < 32 and not DEBUG:
    raise ImproperlyConfigured("SECRET_KEY is shorter than 32 characters; use a long random value.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names this server answers to when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "accounts",
    "rubrics",
    "annotation",
    "quality",
    "exports",
    "judges",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.AnonymousBodyLimitMiddleware",
    "config.query_params.QueryParamsAllowListMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the 429 of accounts/throttle.py.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

_default_db = f"sqlite:///{VAR_DIR / 'accord.sqlite3'}"
_database_url = os.environ.get("DATABASE_URL", _default_db)
try:
    _db = dj_database_url.parse(_database_url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))
except Exception as exc:  # the library raises several types for malformed URLs
    raise ImproperlyConfigured(f"DATABASE_URL={_database_url!r} is not a valid database URL: {exc}") from None
if _db["ENGINE"] not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
    raise ImproperlyConfigured(f"DATABASE_URL must point at PostgreSQL or SQLite, not {_db['ENGINE']}.")
if _db["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the web server read while the worker writes; the timeout absorbs short write locks.
    _db["OPTIONS"] = {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    _db["CONN_MAX_AGE"] = 0
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
# Database sessions with their user beside them, so all of a user's can end at once (accounts/sessions.py).
SESSION_ENGINE = "accounts.sessions"
# Days a new API token lives unless its request says otherwise; 0: until revoked.
API_TOKEN_DEFAULT_DAYS = env_int("ACCORD_API_TOKEN_DAYS", 0)
# Sign-in failures (django-axes, accounts/throttle.py): on every sign-in path, 429 once an account or a
# client address failed ACCORD_LOGIN_FAILURES times in the window, counted in the shared cache (below).
for _gone in ("ACCORD_LOGIN_FAILURES_PER_USER", "ACCORD_LOGIN_FAILURES_PER_ADDRESS"):
    if _gone in os.environ:
        raise ImproperlyConfigured(f"{_gone} is no longer read: set ACCORD_LOGIN_FAILURES (per account and address).")
LOGIN_FAILURE_LIMIT = env_int("ACCORD_LOGIN_FAILURES", 10, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("ACCORD_LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_FAILURE_WINDOW_SECONDS)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "accounts.throttle.login_account"
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.throttle.login_locked_out"
AXES_ENABLE_ADMIN = AXES_VERBOSE = False
# Password resets per client address (requests, link visits) and e-mails per address asked for.
PASSWORD_RESET_RATE = env_rate("ACCORD_PASSWORD_RESET_RATE", "10/hour")
PASSWORD_RESET_EMAIL_RATE = env_rate("ACCORD_PASSWORD_RESET_EMAIL_RATE", "3/hour")
# Requests signed in by neither a session nor an API token may carry this much body at most.
ANONYMOUS_MAX_BODY_BYTES = env_int("ACCORD_ANONYMOUS_MAX_BODY_KB", 64, minimum=1) * 1024

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Bulk imports arrive as one JSON body (100,000 items is tens of megabytes).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ACCORD_MAX_UPLOAD_MB", 512, minimum=1) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": None,
    "DEFAULT_THROTTLE_RATES": {"auth": env_rate("ACCORD_AUTH_THROTTLE", "20/min")},
    # How many proxies in front append to X-Forwarded-For; the client address (for the API and
    # login throttles) is the entry that many from the right, or REMOTE_ADDR when 0. Without
    # it DRF keys throttles on the whole header, which a client writes itself and so could
    # change on every attempt. Default: 1 behind the TLS proxy of production, 0 otherwise.
    "NUM_PROXIES": env_int(
        "ACCORD_TRUSTED_PROXIES", 1 if not DEBUG and env_bool("ACCORD_BEHIND_TLS_PROXY", True) else 0
    ),
    # JSON only: DRF's browsable API would add an HTML page per endpoint that renders untrusted
    # data and breaks the Content-Security-Policy (inline styles). /api/docs/ is the explorer.
    "DEFAULT_RENDERER_CLASSES": ["config.renderers.JSONRenderer"],
    # JSON bodies are checked for depth and for text that cannot be stored (config/untrusted.py).
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Accord API",
    "DESCRIPTION": "Rubrics, items, ratings, queues, LLM judges, agreement and export.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: no CDN, so it works offline and under a strict CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents its error answers, in the one shape of config/errors.py.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.errors.schema_error_responses",
        "config.serializers.schema_closed_request_bodies",
    ],
}

# Celery. The default broker is kombu's filesystem transport under var/, so a laptop needs no
# server; production sets CELERY_BROKER_URL=redis://... and runs workers on as many machines as
# it likes.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.split("://", 1)[0] not in {"filesystem", "redis", "rediss", "memory"}:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r}: use redis://host:6379/0 (production) or filesystem:// (local)."
    )
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A task that has not been acknowledged within this many seconds is handed to another
    # worker; every time limit below must stay under it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# Work done inside the request that asked for it rather than queued for a Celery worker:
# re-deciding a project's items after its rules change, computing an agreement report on read.
# Each estimates its cost in the same unit, about 0.1 µs of CPU here, so the default is about a
# second (5,000 items re-decided; an agreement report on 100,000 ratings, or 9,000 with 1,000
# bootstrap draws). 0 sends all of it to the workers.
INLINE_WORK_LIMIT = env_int("ACCORD_INLINE_WORK_LIMIT", 10_000_000)

# The sign-in, token and reset counters: one cache for every web process. Redis with CACHE_URL (production),
# else a database table (made by the accounts migrations; `manage.py createcachetable` recreates it).
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://")):
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r}: use redis://host:6379/1, or leave it unset.")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "accord_cache"}
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Security headers, on every response and with DEBUG on too, so tests and laptops see what
# production sends. The policy allows only our own origin: no inline scripts or styles (pages
# load static/accord/*.js and *.css), no plugins, no framing, forms post only to us.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True  # API tokens and the session are never readable by page scripts

if not DEBUG:
    # Production sits behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it
    # from clients: otherwise a client could claim https). ACCORD_BEHIND_TLS_PROXY=0 when Django
    # terminates TLS itself or the proxy does not set the header.
    if env_bool("ACCORD_BEHIND_TLS_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Load balancers probe health over plain HTTP; a redirect would read as "down".
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]
    # HSTS: a year by default. Subdomains are included unless some host under the domain still
    # serves plain HTTP; preload is a promise to the browsers' list, so it is opt-in.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# --- judges ---
# LLM judge runs (judges/, docs/judges.md). A run is split into chunks of JUDGES_CHUNK_SIZE items,
# one Celery task each; a task keeps JUDGES_CONCURRENCY provider calls in flight from its process.
JUDGES_CHUNK_SIZE = env_int("JUDGES_CHUNK_SIZE", 256, minimum=1)
JUDGES_CONCURRENCY = env_int("JUDGES_CONCURRENCY", 32, minimum=1)
JUDGES_REQUEST_TIMEOUT = env_int("JUDGES_REQUEST_TIMEOUT", 120, minimum=1)  # seconds per provider call
JUDGES_TRANSIENT_RETRIES = env_int("JUDGES_TRANSIENT_RETRIES", 5)  # 429 / 5xx / 529 / timeouts, per call
JUDGES_OUTPUT_RETRIES = env_int("JUDGES_OUTPUT_RETRIES", 2)  # invalid or cut-off output, per sample
JUDGES_BACKOFF_BASE_SECONDS = env_int("JUDGES_BACKOFF_BASE_MS", 500, minimum=1) / 1000
JUDGES_BACKOFF_MAX_SECONDS = env_int("JUDGES_BACKOFF_MAX_MS", 60_000, minimum=1) / 1000
JUDGES_CHUNK_RETRIES = env_int("JUDGES_CHUNK_RETRIES", 3)
# Redelivery after a dead worker is not counted by Celery: a chunk that kills its worker every
# time would loop forever. Give it up after this many deliveries in a row with no new verdict.
JUDGES_CHUNK_MAX_STALLED_ATTEMPTS = env_int("JUDGES_CHUNK_MAX_STALLED_ATTEMPTS", 5, minimum=1)
# Provider rate limits are shared by all workers through Redis when there is one; otherwise
# (filesystem broker) every process limits itself.
JUDGES_RATE_LIMIT_REDIS_URL = os.environ.get(
    "JUDGES_RATE_LIMIT_REDIS_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
# Only the worker test sets this: it lets a SIGKILLed worker's chunk come back within seconds
# (CELERY_VISIBILITY_TIMEOUT above refuses values under a minute, rightly for production).
_judges_test_vt = env_int("JUDGES_TEST_VISIBILITY_TIMEOUT", 0)
if _judges_test_vt and "visibility_timeout" in CELERY_BROKER_TRANSPORT_OPTIONS:
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        visibility_timeout=_judges_test_vt, unacked_restore_interval=1, unacked_restore_throttle=1
    )
# A chunk must finish (or be cut short and retried) well before the broker would hand it to
# another worker, or two workers would do the same calls (harmless for the data, not for the bill).
_judges_vt = CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
JUDGES_TASK_TIME_LIMIT = min(env_int("JUDGES_TASK_TIME_LIMIT", 900, minimum=10), max(10, int(_judges_vt * 0.8)))
JUDGES_TASK_SOFT_TIME_LIMIT = JUDGES_TASK_TIME_LIMIT - max(5, JUDGES_TASK_TIME_LIMIT // 10)
# Celery beat runs judges.tasks.judge_runs_sweep_stalled every JUDGES_STALLED_SWEEP_SECONDS: an
# active run with no delivery and no verdict for JUDGES_STALLED_RUN_SECONDS (by default the
# visibility timeout plus the time limit: a chunk the broker still holds has come back by then)
# has lost its chunks to the broker, and they are sent again.
JUDGES_STALLED_RUN_SECONDS = env_int("JUDGES_STALLED_RUN_SECONDS", _judges_vt + JUDGES_TASK_TIME_LIMIT, minimum=1)
JUDGES_STALLED_SWEEP_SECONDS = env_int("JUDGES_STALLED_SWEEP_SECONDS", 60, minimum=1)
JUDGES_BATCH_POLL_SECONDS = env_int("JUDGES_BATCH_POLL_SECONDS", 60, minimum=1)  # docs/judges.md, "Batch mode"
JUDGES_BATCH_MAX_REQUESTS = env_int("JUDGES_BATCH_MAX_REQUESTS", 10_000, minimum=1)  # per provider batch
# The posterior rule's fit is made again once ratings or gold grew this much (0: off): docs/triage.md.
POSTERIOR_REFIT_GROWTH_PERCENT = env_int("ACCORD_POSTERIOR_REFIT_GROWTH_PERCENT", 100)
POSTERIOR_REFIT_SWEEP_SECONDS = env_int("ACCORD_POSTERIOR_REFIT_SWEEP_SECONDS", 300, minimum=1)
_SWEEPS = {"judges-requeue-stalled-runs": ("judges.tasks.judge_runs_sweep_stalled", JUDGES_STALLED_SWEEP_SECONDS),
           "quality-posterior-refits": ("quality.tasks.posterior_refits_sweep", POSTERIOR_REFIT_SWEEP_SECONDS)}
CELERY_BEAT_SCHEDULE = {name: {"task": task, "schedule": every, "options": {"expires": every}}  # no pile-up
                        for name, (task, every) in _SWEEPS.items()}  # fmt: skip
# Hosts (optionally host:port) a judge's base_url may point at, and which env variables may be a
# judge's key and where each may go: docs/security.md. Link-local addresses are always refused;
# loopback is allowed by default only with DEBUG on (local vLLM / Ollama, the fake LLM server).
_local = ["localhost", "127.0.0.1", "::1"] if DEBUG else []
JUDGES_ALLOWED_HOSTS = env_list("ACCORD_JUDGE_HOSTS", ["api.openai.com", "api.anthropic.com", *_local])
JUDGE_KEYS = env_judge_keys("ACCORD_JUDGE_KEYS", "OPENAI_API_KEY=api.openai.com;ANTHROPIC_API_KEY=api.anthropic.com")
# The SDKs' HTTP client logs every request at INFO: thousands of lines per run, and CPU.
LOGGING["loggers"].update({name: {"level": "WARNING"} for name in ("httpx", "httpx2", "httpcore", "httpcore2")})
