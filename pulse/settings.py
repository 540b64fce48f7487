"""Pulse settings: one module, driven by the environment (see pulse/lib/env.py).

``PULSE_ENV`` is ``prod`` unless the dev or test entry points say otherwise, so a
missing variable never lowers security. Only what production must differ in
depends on it.
"""

from pathlib import Path

from django.utils.csp import CSP

from pulse.lib.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_networks,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

PULSE_ENV = env_choice("PULSE_ENV", "prod", ("prod", "dev", "test"))
IS_PROD = PULSE_ENV == "prod"
DEBUG = env_bool("PULSE_DEBUG", PULSE_ENV == "dev")
SECRET_KEY = env_str("PULSE_SECRET_KEY")
ALLOWED_HOSTS = env_list(
    "PULSE_ALLOWED_HOSTS", [] if IS_PROD else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("PULSE_CSRF_TRUSTED_ORIGINS", [])
PUBLIC_URL = env_str("PULSE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "pulse",
    "accounts",
    "monitors",
    "incidents",
    "alerting",
    "notifications",
    "ingest",
]

MIDDLEWARE = [
    "pulse.metrics.MetricsMiddleware",
    "pulse.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "pulse.middleware.TenantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "pulse.urls"
ASGI_APPLICATION = "pulse.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.tenancy",
            ],
        },
    }
]

# --- Database: three roles on one database (SPEC §4) --------------------------------
# default: the RLS-bound app role; system: crosses orgs (admin, scheduler, outbox);
# owner: owns the tables and runs migrations only (see pulse.db.router).
DATABASES = {
    "default": database_from_url("PULSE_DB_APP_URL", engine="pulse.db.backend"),
    "system": database_from_url("PULSE_DB_SYSTEM_URL", engine="django.db.backends.postgresql"),
    "owner": database_from_url("PULSE_DB_OWNER_URL", engine="django.db.backends.postgresql"),
}
DATABASE_ROUTERS = ["pulse.db.router.PulseRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache (rate limits), Celery broker, channel layer ------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"pulse:{PULSE_ENV}",
        "TIMEOUT": 300,
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"pulse:{PULSE_ENV}:ws"},
    }
}

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# E-mail is unique case-insensitively through a functional index (INV-3), which the
# auth check cannot see.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTHENTICATION_BACKENDS = ["accounts.auth.EmailBackend"]
PASSWORD_HASHERS = [
    "pulse.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
_TEST = PULSE_ENV == "test"
ARGON2_TIME_COST = env_int("PULSE_ARGON2_TIME_COST", 1 if _TEST else 2, minimum=1)
ARGON2_MEMORY_KIB = env_int("PULSE_ARGON2_MEMORY_KIB", 8192 if _TEST else 102_400, minimum=8)
ARGON2_PARALLELISM = env_int("PULSE_ARGON2_PARALLELISM", 1 if _TEST else 8, minimum=1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "landing"
PASSWORD_RESET_TIMEOUT = 60 * 60

# Login throttling (SPEC §8): checked before the password is compared.
LOGIN_RATE_PER_IP = env_str("PULSE_LOGIN_RATE_PER_IP", "20/m")
# Peers whose X-Real-IP / X-Forwarded-For name the client (pulse.middleware.client_ip);
# anyone else is identified by the socket's address. Loopback: nginx on the same host.
TRUSTED_PROXIES = env_networks("PULSE_TRUSTED_PROXIES", ["127.0.0.0/8", "::1/128"])
LOGIN_RATE_PER_ACCOUNT = env_str("PULSE_LOGIN_RATE_PER_ACCOUNT", "10/m")
LOGIN_LOCKOUT_FAILURES = env_int("PULSE_LOGIN_LOCKOUT_FAILURES", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("PULSE_LOGIN_LOCKOUT_SECONDS", 15 * 60, minimum=1)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_VIEW = "pulse.errors.ratelimited"

# --- Sessions: server-side rows, listed and revocable per user ------------------------
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_AGE = 14 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = IS_PROD
SESSION_COOKIE_NAME = "__Host-pulse_session" if IS_PROD else "pulse_session"
CSRF_COOKIE_SECURE = IS_PROD
CSRF_COOKIE_HTTPONLY = False  # HTMX reads it to send X-CSRFToken
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "__Host-pulse_csrf" if IS_PROD else "pulse_csrf"
CSRF_FAILURE_VIEW = "pulse.errors.csrf_failure"

# --- Security headers -----------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = IS_PROD
# nginx redirects browsers; probes from the orchestrator hit health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^health(/ready)?$", r"^metrics$"]
SECURE_HSTS_SECONDS = 31_536_000 if IS_PROD else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = IS_PROD
SECURE_HSTS_PRELOAD = IS_PROD
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- i18n / time ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Static files: nginx serves them in production; daphne serves them locally. -----
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("PULSE_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Browser libraries come from the npm registry (package-lock.json), never a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/htmx-ext-ws", BASE_DIR / "node_modules" / "htmx-ext-ws" / "dist"),
]
SERVE_STATIC = env_bool("PULSE_SERVE_STATIC", not IS_PROD)

# --- Email ------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "PULSE_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if IS_PROD
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = BASE_DIR / ".run" / "mail"
EMAIL_HOST = env_str("PULSE_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = env_int("PULSE_SMTP_PORT", 25)
EMAIL_HOST_USER = env_str("PULSE_SMTP_USER", "")
EMAIL_HOST_PASSWORD = env_str("PULSE_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("PULSE_SMTP_STARTTLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("PULSE_FROM_EMAIL", "Pulse <alerts@pulse.local>")

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = False
# Beat runs only these housekeeping tasks (django-celery-beat's DatabaseScheduler
# copies them into its tables); per-monitor schedules live in monitors.next_check_at.
CELERY_BEAT_SCHEDULE = {
    "schedule-tick": {
        "task": "monitors.tasks.schedule_tick",
        "schedule": 1.0,
        "options": {"queue": "default", "expires": 5},
    },
    "sweep-outbox": {
        "task": "notifications.tasks.sweep_outbox",
        "schedule": 2.0,
        "options": {"queue": "notifications", "expires": 10},
    },
    "remind-unacknowledged": {
        "task": "alerting.tasks.remind_unacknowledged",
        "schedule": 60.0,
        "options": {"queue": "alerts", "expires": 50},
    },
    "maintain-partitions": {
        "task": "monitors.tasks.maintain_partitions",
        "schedule": 3600.0,
        "options": {"queue": "default"},
    },
}

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pulse.api_auth.ApiKeyAuthentication",
        "pulse.api.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["pulse.api_throttle.OrgIpRateThrottle"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only, size-capped (413), depth-bounded, refusing NUL and lone surrogates.
    "DEFAULT_PARSER_CLASSES": ["pulse.api_json.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "pulse.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pulse API",
    "DESCRIPTION": "Multi-tenant infrastructure monitoring.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/v1",
    "DEFAULT_GENERATOR_CLASS": "pulse.api_docs.PulseSchemaGenerator",
}
# Per (org, client IP) on /v1; answers 429 with Retry-After.
API_RATE = env_str("PULSE_API_RATE", "600/m")

# --- Logging: structlog JSON to stdout, secrets redacted (pulse/logging.py) ----------
LOGGING_CONFIG = None
LOG_LEVEL = env_str("PULSE_LOG_LEVEL", "INFO")
LOG_JSON = env_bool("PULSE_LOG_JSON", IS_PROD)

# --- Pulse --------------------------------------------------------------------------------
# CIDRs that the egress guard admits despite not being public (development and tests).
EGRESS_ALLOW_CIDRS = env_list("PULSE_ALLOW_EGRESS_CIDRS", [])
ENCRYPTION_KEYS = env_str("PULSE_ENCRYPTION_KEYS", "")
METRICS_TOKEN = env_str("PULSE_METRICS_TOKEN", "")
# The check cycle (SPEC §5).
CHECK_BATCH_SIZE = env_int("PULSE_CHECK_BATCH_SIZE", 200, minimum=1)
CHECK_MAX_BATCHES_PER_TICK = env_int("PULSE_CHECK_MAX_BATCHES_PER_TICK", 100, minimum=1)
# Claim monitors due within this many seconds, so a batch can be at the worker and
# start each probe at its due time instead of up to one tick late.
CHECK_LOOKAHEAD_SECONDS = float(env_int("PULSE_CHECK_LOOKAHEAD_MS", 1500, minimum=0)) / 1000
# A claimed due time whose result is not back by due + timeout + this is re-sent.
CHECK_LEASE_GRACE = float(env_int("PULSE_CHECK_LEASE_GRACE_SECONDS", 30, minimum=1))
# The notifier (SPEC §7).
NOTIFY_MAX_ATTEMPTS = env_int("PULSE_NOTIFY_MAX_ATTEMPTS", 8, minimum=1)
NOTIFY_BACKOFF_BASE = float(env_int("PULSE_NOTIFY_BACKOFF_BASE_MS", 5000, minimum=1)) / 1000
NOTIFY_BACKOFF_CAP = float(env_int("PULSE_NOTIFY_BACKOFF_CAP_SECONDS", 1800, minimum=1))
NOTIFY_LEASE_SECONDS = env_int("PULSE_NOTIFY_LEASE_SECONDS", 60, minimum=1)
NOTIFY_TIMEOUT_SECONDS = env_int("PULSE_NOTIFY_TIMEOUT_SECONDS", 10, minimum=1)
NOTIFY_CONCURRENCY = env_int("PULSE_NOTIFY_CONCURRENCY", 100, minimum=1)
NOTIFY_SWEEP_LIMIT = env_int("PULSE_NOTIFY_SWEEP_LIMIT", 5000, minimum=1)
TWILIO_API_BASE_URL = env_str("PULSE_TWILIO_API_BASE_URL", "") or None
METRIC_SAMPLES_RETENTION_DAYS = env_int("PULSE_METRIC_SAMPLES_RETENTION_DAYS", 7, minimum=1)
CHECK_RESULTS_RETENTION_DAYS = env_int("PULSE_CHECK_RESULTS_RETENTION_DAYS", 30, minimum=1)

from pulse.logging import configure_logging  # noqa: E402

configure_logging(level=LOG_LEVEL, json=LOG_JSON)
