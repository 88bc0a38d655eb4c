"""Settings for the background-job platform, in sections, every value from the environment.

Defaults are safe for a developer's machine (SQLite, local Redis). Production mode
(``DJANGO_ENV=production``) requires SECRET_KEY and ALLOWED_HOSTS and turns on HTTPS hardening.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.redis_client import broker_connection_options

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------------
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
ENVIRONMENTS = ("development", "production")
if DJANGO_ENV not in ENVIRONMENTS:
    # A typo ("prod") must not quietly run a production deploy with development settings.
    raise ImproperlyConfigured(f"DJANGO_ENV must be one of {', '.join(ENVIRONMENTS)}, not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")  # required: fails loudly when missing
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-change-me")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",  # index expressions with operator classes (jobs.search: pg_trgm)
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own origin, not a CDN
    "axes",
    "csp",
    "django_dramatiq",
    "jobs",
    "monitoring",
    "documents",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.middleware.NoStoreMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Workers must keep their connections: a new connection per job is 15x slower
# (shared/notes/performance.md). Broken connections are dropped after an error.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)
# Behind PgBouncer in transaction pooling mode a session's state does not survive its transaction:
# Django's server-side cursors (QuerySet.iterator() outside a transaction: DECLARE … WITH HOLD)
# would be fetched on another server connection. The engine itself keeps no session state.
if env.bool("DATABASE_TRANSACTION_POOLING", default=False):
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web, the worker and the scheduler share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory: integration tests share the test database with worker processes.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test.sqlite3")}

# --- Auth and security ------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The dashboard's own login: the admin's refuses users who are not staff (read-only users).
LOGIN_URL = "jobs:login"
LOGIN_REDIRECT_URL = "/"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out client before checking a password
    "django.contrib.auth.backends.ModelBackend",
]

# Reverse proxies in front of the app (0: REMOTE_ADDR is the client). Lockouts and throttles key on
# the client address; trusting X-Forwarded-For without a proxy would let anyone pick their own.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

# Sign-in lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is refused (429) for AXES_COOLOFF_MINUTES. Keyed on the pair, so that an
# attacker cannot lock a user out from everywhere.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"
AXES_VERBOSE = False

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    # Opt-in: both bind every subdomain (and, with preload, browsers' built-in lists) to HTTPS for
    # a year; only the owner of the whole domain can decide that.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SILENCED_SYSTEM_CHECKS = [
        check
        for check, opted_in in (
            ("security.W005", SECURE_HSTS_INCLUDE_SUBDOMAINS),
            ("security.W021", SECURE_HSTS_PRELOAD),
        )
        if not opted_in
    ]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts only from our own static files (no inline script,
# no CDN). Inline styles stay allowed: the pages use style attributes, and styles cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files, uploads and storage folders ------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
MEDIA_URL = "media/"
REPORTS_DIR = env.path("REPORTS_DIR", default=BASE_DIR / "var" / "reports")
DOCUMENTS_UPLOAD_DIR = env.path("DOCUMENTS_UPLOAD_DIR", default=BASE_DIR / "var" / "uploads")
DOCUMENTS_WATCH_DIR = env.path("DOCUMENTS_WATCH_DIR", default=BASE_DIR / "var" / "watch")
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
# A whole store-data upload (the three CSVs together). Larger imports are for the
# ``import_store_data`` command, which reads the files from disk in a process of its own.
FILE_UPLOAD_MAX_SIZE = env.int("FILE_UPLOAD_MAX_SIZE", default=20 * 1024 * 1024)
# A JSON request body; larger ones are refused (413) before they are parsed.
API_MAX_JSON_BYTES = env.int("API_MAX_JSON_BYTES", default=1024 * 1024)

# --- Redis and Dramatiq -----------------------------------------------------------------------
# One server (redis://…), or Sentinel: a redis+sentinel://s1:26379,s2:26379/<master>/<db> URL, or
# REDIS_SENTINELS=s1:26379,s2:26379 with REDIS_SENTINEL_MASTER (see config/redis_client.py).
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_SENTINELS = env.str("REDIS_SENTINELS", default="")
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="mymaster")
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="")

# Broker recovery of a killed worker's messages is chosen deliberately (shared/notes/reliability.md):
# a broker process is presumed dead after 15 s without heartbeat, and 10 % of broker calls run the
# maintenance that requeues its messages. The engine's own reaper covers what the broker misses.
DRAMATIQ_BROKER = {
    "BROKER": "jobs.broker.TrackedRedisBroker",
    "OPTIONS": {
        **broker_connection_options(
            REDIS_URL,
            sentinels=REDIS_SENTINELS,
            master=REDIS_SENTINEL_MASTER,
            sentinel_password=REDIS_SENTINEL_PASSWORD,
        ),
        "heartbeat_timeout": env.int("DRAMATIQ_HEARTBEAT_TIMEOUT_MS", default=15000),
        "maintenance_chance": env.int("DRAMATIQ_MAINTENANCE_CHANCE", default=100000),
        "namespace": env.str("DRAMATIQ_NAMESPACE", default="dramatiq"),
    },
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.CurrentMessage",
        "dramatiq.middleware.ShutdownNotifications",
        "jobs.worker.middleware.JobTracking",
    ],
}
# JSON, never pickle: anyone who can write to Redis could otherwise run code.
DRAMATIQ_ENCODER = "dramatiq.encoder.JSONEncoder"
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]

# --- Job engine -------------------------------------------------------------------------------
# Liveness is the worker host's: its supervisor beats every HEARTBEAT_INTERVAL seconds (database
# clock); a host silent for LIVENESS_TIMEOUT has its running jobs released. A dead worker process
# is released at once by its own supervisor. A job past its actor's time limit plus
# HARD_LIMIT_GRACE has its process restarted.
JOBS = {
    "HEARTBEAT_INTERVAL": env.float("JOBS_HEARTBEAT_INTERVAL", default=2.0),
    "LIVENESS_TIMEOUT": env.float("JOBS_LIVENESS_TIMEOUT", default=20.0),
    "HARD_LIMIT_GRACE": env.float("JOBS_HARD_LIMIT_GRACE", default=10.0),
    # The dispatcher publishes due jobs (ETAs, retries after backoff) this often, on every host.
    "DISPATCH_INTERVAL": env.float("JOBS_DISPATCH_INTERVAL", default=0.2),
    # The recovery pass (dead workers, silent hosts, lost messages) runs this often on every host.
    "MAINTENANCE_INTERVAL": env.float("JOBS_MAINTENANCE_INTERVAL", default=3.0),
    # A queued job whose message Redis no longer holds after this long is published again.
    "LOST_MESSAGE_AGE": env.float("JOBS_LOST_MESSAGE_AGE", default=60.0),
    # Claims and successes may commit without waiting for the WAL flush: faster, nothing is lost,
    # but a database crash can undo a recorded success and run that job again. Off by default.
    "FAST_COMMIT": env.bool("JOBS_FAST_COMMIT", default=False),
    "RETENTION_DAYS": env.int("JOBS_RETENTION_DAYS", default=30),
    "MAX_ARGS_BYTES": env.int("JOBS_MAX_ARGS_BYTES", default=64 * 1024),
    "MAX_RESULT_BYTES": env.int("JOBS_MAX_RESULT_BYTES", default=64 * 1024),
    "WORKER_TIMEOUT_MS": env.int("JOBS_WORKER_TIMEOUT_MS", default=100),
    # run_worker --autoscale MIN:MAX (jobs/worker/autoscale.py): every AUTOSCALE_INTERVAL seconds a
    # host grows by a process while more jobs wait than its threads, or the oldest has waited more
    # than AUTOSCALE_MAX_WAIT seconds, unless free memory is under AUTOSCALE_MIN_FREE_MEMORY_MB;
    # it shrinks after AUTOSCALE_QUIET_PERIOD seconds without a waiting job.
    "AUTOSCALE_INTERVAL": env.float("JOBS_AUTOSCALE_INTERVAL", default=2.0),
    "AUTOSCALE_MAX_WAIT": env.float("JOBS_AUTOSCALE_MAX_WAIT", default=10.0),
    "AUTOSCALE_QUIET_PERIOD": env.float("JOBS_AUTOSCALE_QUIET_PERIOD", default=60.0),
    "AUTOSCALE_MIN_FREE_MEMORY_MB": env.int("JOBS_AUTOSCALE_MIN_FREE_MEMORY_MB", default=512),
    # Queue controls (jobs.controls): every process rereads them this often (seconds); a job a full
    # concurrency limit held back is offered again after about this long.
    "CONTROLS_REFRESH": env.float("JOBS_CONTROLS_REFRESH", default=1.0),
    "CONTROLS_HOLD_DELAY": env.float("JOBS_CONTROLS_HOLD_DELAY", default=0.5),
}

# Retention by final state (jobs/retention.py): a finished job's row is deleted by the daily prune
# once it has been finished this long (durations like 30m, 12h, 3d, 2w; dead letters are the failed
# jobs). Set from the environment as JOBS_RETENTION="succeeded=3d,failed=90d,cancelled=7d"; a state
# left out keeps JOBS_RETENTION_DAYS. JOBS_RESULT_TTL clears a result (the row stays) once its job
# has been finished this long; empty keeps results as long as their rows. Checked at startup.
JOBS_RETENTION = env.dict("JOBS_RETENTION", default={"succeeded": "3d", "failed": "90d", "cancelled": "7d"})
JOBS_RESULT_TTL = env.str("JOBS_RESULT_TTL", default="1d")


# --- Alerts -------------------------------------------------------------------------------------
# Alert emails go through Django's mail backend (SMTP by default; EMAIL_BACKEND picks another).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="alerts@localhost")
ALERTS = {
    "WEBHOOK_TIMEOUT": env.float("ALERTS_WEBHOOK_TIMEOUT", default=5.0),
    # The dashboard's address, for the link in alert messages (blank: no link).
    "DASHBOARD_URL": env.str("ALERTS_DASHBOARD_URL", default=""),
}

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an unauthenticated call then gets 401 with "WWW-Authenticate: Token", not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api_auth.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: form encoding cannot send null, and a dropped empty filter widens a bulk action.
    "DEFAULT_PARSER_CLASSES": ["config.api_parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "NUM_PROXIES": NUM_PROXIES or None,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "user": env.str("API_THROTTLE_USER", default="6000/minute"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Background-job platform API",
    "DESCRIPTION": "Jobs, schedules, monitoring scans, documents and reports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_schema.document_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "RetryableStatusEnum": [("failed", "Failed"), ("cancelled", "Cancelled")],
        "HealthStatusEnum": [("ok", "ok"), ("unavailable", "unavailable")],
        "ReportStatusEnum": "reports.models.ReportStatus",
        # Two choice sets of fields named "kind": named here, or drf-spectacular suffixes a hash.
        "ReportKindEnum": "reports.models.ReportKind",
        "AlertKindEnum": "jobs.alerts.models.AlertKind",
    },
}

# Failed-token throttling: this many failed token authentications per client address, then 429.
API_AUTH_FAILURE_RATE = env.str("API_AUTH_FAILURE_RATE", default="20/minute")

# Throttles and the failed-authentication counter live here. Several web processes share them only
# in a shared cache: set CACHE_URL (e.g. redis://127.0.0.1:6379/1) in production.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# --- Documents --------------------------------------------------------------------------------
# Stored originals live in DOCUMENTS_UPLOAD_DIR under names derived from their SHA-256; every
# extraction runs in a child process with a memory ceiling and a wall-clock limit (the job's own
# time limit cannot interrupt a parser stuck in C code).
DOCUMENTS = {
    "STORAGE_DIR": DOCUMENTS_UPLOAD_DIR,
    "WATCH_DIRS": env.list("DOCUMENTS_WATCH_DIRS", default=[str(DOCUMENTS_WATCH_DIR)]),
    # A file is ingested once no event came and its size and mtime stayed the same this long.
    "WATCH_SETTLE_SECONDS": env.float("DOCUMENTS_WATCH_SETTLE_SECONDS", default=5.0),
    # A full rescan catches the file events that got lost (network shares, overflowed queues).
    "WATCH_RESCAN_SECONDS": env.float("DOCUMENTS_WATCH_RESCAN_SECONDS", default=300.0),
    "WATCH_POLLING": env.bool("DOCUMENTS_WATCH_POLLING", default=False),
    "WATCH_AFTER_INGEST": env.str("DOCUMENTS_WATCH_AFTER_INGEST", default="keep"),  # keep | move | delete
    "MAX_UPLOAD_BYTES": env.int("DOCUMENTS_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024),
    "MAX_FILES_PER_UPLOAD": env.int("DOCUMENTS_MAX_FILES_PER_UPLOAD", default=100),
    "EXTRACTION_MEMORY_MB": env.int("DOCUMENTS_EXTRACTION_MEMORY_MB", default=1024),
    "EXTRACTION_TIMEOUT": env.float("DOCUMENTS_EXTRACTION_TIMEOUT", default=240.0),
    "EXTRACTOR_RECYCLE_AFTER": env.int("DOCUMENTS_EXTRACTOR_RECYCLE_AFTER", default=1000),
    "MAX_TEXT_CHARS": env.int("DOCUMENTS_MAX_TEXT_CHARS", default=2_000_000),
    "MAX_IMAGE_PIXELS": env.int("DOCUMENTS_MAX_IMAGE_PIXELS", default=89_478_485),  # Pillow's own warning level
    "ZIP_MAX_UNCOMPRESSED_BYTES": env.int("DOCUMENTS_ZIP_MAX_UNCOMPRESSED_BYTES", default=512 * 1024 * 1024),
    "ZIP_MAX_RATIO": env.int("DOCUMENTS_ZIP_MAX_RATIO", default=100),
    "ZIP_MAX_MEMBERS": env.int("DOCUMENTS_ZIP_MAX_MEMBERS", default=10_000),
    "RTF_MAX_BYTES": env.int("DOCUMENTS_RTF_MAX_BYTES", default=5 * 1024 * 1024),  # striprtf is slow
    "OCR_LANGUAGES": env.str("DOCUMENTS_OCR_LANGUAGES", default="eng"),
    "OCR_MAX_PAGES": env.int("DOCUMENTS_OCR_MAX_PAGES", default=20),
    "OCR_DPI": env.int("DOCUMENTS_OCR_DPI", default=200),
    "SEARCH_INDEX_CHARS": env.int("DOCUMENTS_SEARCH_INDEX_CHARS", default=200_000),
    "SEARCH_CONFIG": env.str("DOCUMENTS_SEARCH_CONFIG", default="english"),  # PostgreSQL text search config
    "RETENTION_DAYS": env.int("DOCUMENTS_RETENTION_DAYS", default=365),
}
# The documents API's choice fields get names of their own in the OpenAPI schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "DocumentStatusEnum": "documents.models.DocumentStatus",
        "DocumentSourceEnum": "documents.models.DocumentSource",
        "LedgerStateEnum": "documents.models.LedgerState",
    }
)

# --- Prometheus /metrics (jobs.observability) -------------------------------------------------
# Off: 404. On: a scraper sends "Authorization: Bearer <METRICS_TOKEN>", or a staff user is signed
# in; anyone else gets 401/403, unless METRICS_PUBLIC opens it (a private network only).
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=False)

# --- Logging ----------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Results live in the Job row, not in a Dramatiq result backend: drop Dramatiq's warning about it.
    "filters": {"results_in_job_rows": {"()": "jobs.logging.DropDiscardedResultWarning"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "dramatiq.worker.WorkerThread": {"filters": ["results_in_job_rows"]},
    },
}
