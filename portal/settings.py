"""Django settings for the AI Chip Prep Portal.

Everything comes from the environment (see the README's configuration table).
With DATABASE_URL / REDIS_URL unset, the portal uses its embedded PostgreSQL
(with pgvector) and Redis, started by `python manage.py up` or the test suite.
"""

from __future__ import annotations

import os
import sys
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from portal.core.paths import layout_from
from portal.env import env_bool, env_float, env_int, env_list, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-dev-only-key-change-me-for-any-real-deployment"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

PORTAL_DATA_DIR = env_path("PORTAL_DATA_DIR", BASE_DIR / ".data")
# The test suite runs its own embedded servers beside (never inside) the dev ones; each
# pytest-xdist worker (gw0, gw1, ...) its own pair, so workers never share a database or Redis.
TESTING = "pytest" in sys.modules
_TEST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_TEST_DIR = f"test-{_TEST_WORKER}" if _TEST_WORKER else "test"
DATA_LAYOUT = layout_from(PORTAL_DATA_DIR / _TEST_DIR if TESTING else PORTAL_DATA_DIR)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "template_partials",
    "ninja",
    "portal.core",
    "portal.curriculum",
    "portal.papers",
    "portal.labs",
    "portal.labs.hal",
    "portal.labs.kernels",
    "portal.labs.system_benchmark",
    "portal.labs.pipeline_check",
    "portal.labs.sandbox",
    "portal.labs.llm",
    "portal.knowledge",
    "portal.feishu",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.core.middleware.DefaultLanguageMiddleware",
    "portal.core.middleware.ApiPathMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.core.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.core.context_processors.portal",
            ],
        },
    },
]


# --- Database -----------------------------------------------------------------------------


def _database_from_url(url: str) -> dict[str, object]:
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgresql:// URL, got {parsed.scheme!r}"
        )
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    host = query.pop("host", None) or (unquote(parsed.hostname) if parsed.hostname else "")
    return {
        "ENGINE": "portal.core.db",  # Django's PostgreSQL backend, see portal/core/db
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": 0 if DB_POOL else env_int("DB_CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 5, **query, **_pool_options()},
    }


# A psycopg connection pool per web process (`manage.py up` sets DB_POOL=1 for the web
# server only): under ASGI every request runs in a fresh thread, so without a pool each
# page forked a new PostgreSQL backend. Celery's prefork children keep plain connections
# (a pool must not cross a fork). DB_POOL_MAX bounds one process's connections.
DB_POOL = env_bool("DB_POOL", False)


def _pool_options() -> dict[str, object]:
    if not DB_POOL:
        return {}
    # `timeout`: how long a request waits for a connection. Short, so that with PostgreSQL
    # down a page answers 503 (DatabaseUnavailableMiddleware) in seconds, not after the
    # client gave up; max_size is large enough that a busy process rarely waits at all.
    return {
        "pool": {
            "min_size": 2,
            "max_size": env_int("DB_POOL_MAX", 16),
            "timeout": env_float("DB_POOL_TIMEOUT", 3.0),
        }
    }


DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED_POSTGRES = not DATABASE_URL
if EMBEDDED_POSTGRES:
    DATABASE_URL = f"postgresql://postgres:@/postgres?host={DATA_LAYOUT.pgdata}"
DATABASES = {"default": _database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, Channels layer, cache --------------------------------------------

REDIS_URL = env_str("REDIS_URL")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = f"unix://{DATA_LAYOUT.redis_socket}"


def _redis_url_for_kombu(url: str) -> str:
    # kombu spells unix sockets "redis+socket://"; redis-py spells them "unix://".
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # channels_redis waits for messages with a 5-second blocking BZPOPMIN; redis-py 8
        # reads with a 5-second socket timeout by default, which loses that race and drops
        # idle websockets (1011). A longer read timeout still notices a Redis that died.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}], "prefix": "aicp"},
    }
}

CACHES = {
    "default": {
        "BACKEND": "portal.core.cache.SharedRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "aicp",
    }
}

# Rendered pages per user in Redis, invalid once a table they read is written
# (portal/core/pagecache.py); PAGE_CACHE=0 renders every page afresh.
PAGE_CACHE = env_bool("PAGE_CACHE", True)
PAGE_CACHE_TTL_S = env_int("PAGE_CACHE_TTL_S", 300)

CELERY_BROKER_URL = _redis_url_for_kombu(REDIS_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 3600)
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Device classes map to queues; a deployment can route e.g. gpu -> "gpu-nvidia".
PORTAL_QUEUE_ROUTES = {
    "cpu": env_str("PORTAL_QUEUE_CPU", "cpu"),
    "gpu": env_str("PORTAL_QUEUE_GPU", "gpu"),
    "any": env_str("PORTAL_QUEUE_ANY", "cpu"),
    # Labs that hold a worker for hours (llm-deploy): their own queue and worker, so they
    # never take the slots every other run waits for.
    "long": env_str("PORTAL_QUEUE_LONG", "long"),
}
# Queues the worker started by `manage.py up` serves ("feishu": chat replies and
# notifications, kept apart so a long lab run never delays them).
PORTAL_WORKER_QUEUES = env_list("PORTAL_WORKER_QUEUES", ["cpu"])
PORTAL_WORKER_CONCURRENCY = env_int("PORTAL_WORKER_CONCURRENCY", 1)
# `manage.py up` starts a second worker for the long queue with this many slots (0: none).
PORTAL_LONG_WORKER_CONCURRENCY = env_int("PORTAL_LONG_WORKER_CONCURRENCY", 1)
# Feishu work (event answers, notifications) has its own queue (FEISHU_QUEUE), served by a
# worker of its own that `manage.py up` starts, so an answer never waits behind a lab run.
PORTAL_FEISHU_WORKER_CONCURRENCY = env_int("PORTAL_FEISHU_WORKER_CONCURRENCY", 1)
# The Celery workers `manage.py up` starts run at this niceness (0: the web's own): on a
# busy machine the web processes, which someone is waiting on, get the cores first.
PORTAL_WORKER_NICE = env_int("PORTAL_WORKER_NICE", 10)
# Web processes start full garbage collections themselves, never inside a Feishu
# acknowledgement (portal/core/gcpacer.py); 0: Python's own schedule.
PORTAL_GC_PACER = env_bool("PORTAL_GC_PACER", True)
# Web processes `manage.py up` runs (uvicorn workers); one per core by default.
PORTAL_WEB_WORKERS = env_int(
    "PORTAL_WEB_WORKERS",
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
)

# --- Auth ---------------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (portal/core/ratelimit.py): the first backend refuses while locked.
AUTHENTICATION_BACKENDS = [
    "portal.core.ratelimit.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)  # per username and client address
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env_int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", 30)
LOGIN_LOCKOUT_S = env_int("LOGIN_LOCKOUT_S", 900)
# Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is believed; from
# anyone else the header is ignored, so a client cannot pick the address it is counted as.
PORTAL_TRUSTED_PROXIES = env_list("PORTAL_TRUSTED_PROXIES", [])
for _proxy in PORTAL_TRUSTED_PROXIES:
    try:
        ip_network(_proxy, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"PORTAL_TRUSTED_PROXIES: {_proxy!r} is not an address"
        ) from _exc
# Anyone may create an account (the single-user dev install); set 0 on a shared server and
# create accounts with `createsuperuser` or the admin (`check --deploy` warns while open).
PORTAL_SIGNUP_OPEN = env_bool("PORTAL_SIGNUP_OPEN", True)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

# --- i18n: the study content is Chinese, so the interface defaults to Chinese ------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_LAYOUT.root / "staticfiles"
PORTAL_SERVE_STATIC = env_bool("PORTAL_SERVE_STATIC", True)
MEDIA_URL = "media/"
MEDIA_ROOT = DATA_LAYOUT.media
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

# --- Security (manage.py check --deploy passes with DEBUG off) ---------------------------------

SESSION_COOKIE_HTTPONLY = True
# Error reports hide the Authorization header and passwords inside URLs too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.core.errors.PortalExceptionReporterFilter"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- External services --------------------------------------------------------------------------

FEISHU_APP_ID = env_str("FEISHU_APP_ID")
FEISHU_APP_SECRET = env_str("FEISHU_APP_SECRET")
FEISHU_VERIFICATION_TOKEN = env_str("FEISHU_VERIFICATION_TOKEN")
FEISHU_ENCRYPT_KEY = env_str("FEISHU_ENCRYPT_KEY")
FEISHU_DOMAIN = env_str("FEISHU_DOMAIN", "https://open.feishu.cn")
FEISHU_QUEUE = env_str("FEISHU_QUEUE", "feishu")
CELERY_TASK_ROUTES = {"portal.feishu.tasks.*": {"queue": FEISHU_QUEUE}}
ARXIV_API_URL = env_str("ARXIV_API_URL", "https://export.arxiv.org/api/query")

# Management commands `manage.py up` runs after migrating, when they exist. kb_sync last:
# it queues the embedding of the plan and the content just loaded, so the worker starts
# indexing at once (the knowledge page shows the progress).
PORTAL_BOOTSTRAP_COMMANDS = env_list(
    "PORTAL_BOOTSTRAP_COMMANDS", ["loadcurriculum", "loadpapers", "registerlabs", "kb_sync"]
)
# Every Celery worker writes a heartbeat to Redis every HEALTHZ_HEARTBEAT_S; /healthz
# counts a worker alive while its last beat is younger than HEALTHZ_HEARTBEAT_TTL.
HEALTHZ_HEARTBEAT_S = env_float("HEALTHZ_HEARTBEAT_S", 5.0)
HEALTHZ_HEARTBEAT_TTL = env_float("HEALTHZ_HEARTBEAT_TTL", 30.0)
# /healthz shows details (hosts, versions, errors) to staff and to requests carrying
# `Authorization: Bearer <HEALTHZ_TOKEN>`; everyone else gets the status alone.
HEALTHZ_TOKEN = env_str("HEALTHZ_TOKEN")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
    },
}
