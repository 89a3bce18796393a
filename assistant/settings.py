"""One settings module, read from the environment. Every value has a working embedded default."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from assistant.lib import embedded_db, ldap_settings, mail, var
from assistant.lib.env import (
    env_bool,
    env_choice,
    env_float,
    env_group_map,
    env_int,
    env_list,
    env_networks,
    env_prices,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = var.var_dir()
SECRET_KEY = env_str("SECRET_KEY") or var.secret_key(VAR_DIR)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves Swagger UI from our static files, not a CDN (air-gapped sites)
    "template_partials",
    "django_celery_results",
    "assistant",
    "ingest",
]

MIDDLEWARE = [
    # First, so every line the request logs and every response carries its id.
    "assistant.lib.request_id.request_id",
    "django.middleware.security.SecurityMiddleware",
    "assistant.api.json_errors",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the cookie the switcher sets, else Accept-Language, else LANGUAGE_CODE ...
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "assistant.lib.request_id.request_user",
    # ... unless the person chose one on their account, which follows them to any browser.
    "assistant.accounts.language.account_language",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "assistant.lib.outage.database_unavailable",
    "assistant.lib.metrics.pool_usage",
]

# Only what our pages load: our own scripts, styles, images (the admin's and the API docs' inline
# SVG icons are data: URLs), and requests (htmx, the answer streams) back to us. No inline script
# or style: behaviour lives in static/js, bars are <meter>s.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "assistant.urls"
ASGI_APPLICATION = "assistant.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: DATABASE_URL, or the embedded PostgreSQL under var/ -------------------------------
DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED_DATABASE = not DATABASE_URL
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or embedded_db.database_url(),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        conn_health_checks=True,
    )
}
# During an outage a request fails within seconds (a 503 that says so) instead of hanging.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
    "DATABASE_CONNECT_TIMEOUT_S", 5, minimum=1
)
# The web server (assistant/asgi.py turns this on) shares a pool of at most
# DATABASE_POOL_MAX_SIZE connections between its threads; Celery's forked workers keep Django's
# one connection per thread.
if env_bool("DATABASE_POOL", False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 2,
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 16, minimum=2),
        # Django has the pool try a connection before lending it (psycopg_pool's check): one
        # broken by an outage is replaced, so the first request after it works, no restart.
        "timeout": env_float("DATABASE_POOL_TIMEOUT_S", 10.0),
    }
# Search and retrieval may read streaming replicas of the primary, one alias each (replica_1,
# replica_2, ...); writes and everything else stay on "default" (see assistant/lib/replicas.py).
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", [])
# A replica that has not replayed what the primary had flushed when a search began within this
# many milliseconds is lagging; one found lagging or down is not tried again for RETRY_S.
DATABASE_REPLICA_MAX_LAG_MS = env_int("DATABASE_REPLICA_MAX_LAG_MS", 100, minimum=0)
DATABASE_REPLICA_RETRY_S = env_int("DATABASE_REPLICA_RETRY_S", 5, minimum=1)
# A search waits this long for a replica's connection before it reads the primary instead.
DATABASE_REPLICA_TIMEOUT_S = env_int("DATABASE_REPLICA_TIMEOUT_S", 2, minimum=1)
for _number, _url in enumerate(DATABASE_REPLICA_URLS, start=1):
    _replica = dj_database_url.parse(
        _url, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"], conn_health_checks=True
    )
    _replica.setdefault("OPTIONS", {})["connect_timeout"] = DATABASE_REPLICA_TIMEOUT_S
    if "pool" in DATABASES["default"]["OPTIONS"]:
        _replica["OPTIONS"]["pool"] = DATABASES["default"]["OPTIONS"]["pool"] | {
            "timeout": float(DATABASE_REPLICA_TIMEOUT_S)
        }
    DATABASES[f"replica_{_number}"] = _replica
if DATABASE_REPLICA_URLS:
    DATABASE_ROUTERS = ["assistant.lib.replicas.PrimaryRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "assistant.accounts.throttle.UnlockOnPasswordChange"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Simplified Chinese and English; the site's language when neither the person nor their browser
# names one of these.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LANGUAGE_CODE = env_choice("LANGUAGE_CODE", "en", {code for code, _ in LANGUAGES})
LOCALE_PATHS = [BASE_DIR / "locale"]
# Chinese numbers grouped by thousands with commas, as Chinese software writes them.
FORMAT_MODULE_PATH = ["assistant.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")  # for collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the app folders too, so the embedded mode needs no collectstatic step.
WHITENOISE_USE_FINDERS = True

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)

# --- Background work: Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
EMBEDDED_BROKER = CELERY_BROKER_URL == "filesystem://"
if EMBEDDED_BROKER:
    _folders = var.celery_folders(VAR_DIR)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_folders["queue"]),
        "data_folder_out": str(_folders["queue"]),
        "control_folder": str(_folders["control"]),
        "processed_folder": str(_folders["processed"]),
        "store_processed": False,
        "polling_interval": 0.1,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("TASK_TIME_LIMIT_S", 1800, minimum=10)
# A worker process past this much resident memory after a task is replaced by a fresh one, so a
# large document's parse or embedding does not keep its peak for the rest of the worker's life.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("WORKER_MAX_MEMORY_MB", 1024, minimum=128) * 1024
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Slower vector legs are filled by a worker of their own, at a lower CPU priority
# (assistant.supervisor, docker-compose.yml): ingestion and answers never queue behind them.
CELERY_TASK_ROUTES = {"ingest.tasks.fill_background_legs": {"queue": "backfill"}}

# --- Answer providers --------------------------------------------------------------------------
QWEN_API_KEY = env_str("QWEN_API_KEY") or env_str("DASHSCOPE_API_KEY")
QWEN_BASE_URL = env_str("QWEN_BASE_URL", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1")
QWEN_MODEL_FAST = env_str("QWEN_MODEL_FAST", "qwen-turbo")
QWEN_MODEL = env_str("QWEN_MODEL", "qwen-plus")
QWEN_MODEL_STRONG = env_str("QWEN_MODEL_STRONG", "qwen-max")
# A low-confidence draft is answered again, once, by QWEN_MODEL_STRONG ("draft -> final").
AUTO_UPGRADE = env_bool("AUTO_UPGRADE", True)
# How close in meaning (cosine, best phrasing) a question must be to a reviewed answer to get it;
# calibrated for the local multilingual encoder in bench/reviewed_answers.py.
REVIEWED_ANSWER_MIN_SIMILARITY = env_float("REVIEWED_ANSWER_MIN_SIMILARITY", 0.80)
QWEN_FALLBACK_MODELS = env_list("QWEN_FALLBACK_MODELS", ["qwen-turbo"])
QWEN_ENABLE_THINKING = env_bool("QWEN_ENABLE_THINKING", False)

OPENAI_COMPAT_BASE_URL = env_str("OPENAI_COMPAT_BASE_URL", "http://127.0.0.1:8012/v1")
OPENAI_COMPAT_API_KEY = env_str("OPENAI_COMPAT_API_KEY", "not-needed")
OPENAI_COMPAT_MODEL = env_str("OPENAI_COMPAT_MODEL", "local")

ANSWER_PROVIDER = env_choice(
    "ANSWER_PROVIDER",
    "qwen" if QWEN_API_KEY else "extractive",
    {"qwen", "openai-compatible", "extractive"},
)
ANSWER_MAX_TOKENS = env_int("ANSWER_MAX_TOKENS", 1024, minimum=16)
CONTEXT_BUDGET_TOKENS = env_int("CONTEXT_BUDGET_TOKENS", 3000, minimum=100)
LLM_TIMEOUT_S = env_float("LLM_TIMEOUT_S", 30.0)
LLM_MAX_ATTEMPTS = env_int("LLM_MAX_ATTEMPTS", 3, minimum=1)
# A stream saves its text so far and renews its answer's heartbeat this often; an answer whose
# heartbeat is older than ANSWER_STALE_S lost its process and is closed as interrupted.
ANSWER_HEARTBEAT_S = env_float("ANSWER_HEARTBEAT_S", 5.0)
ANSWER_STALE_S = env_int("ANSWER_STALE_S", 45, minimum=2)
# One deadline for an answer's first token, across the query rewrite, every retry and every
# fallback model; past it the offline answer comes with its notice.
LLM_FIRST_TOKEN_BUDGET_S = env_float("LLM_FIRST_TOKEN_BUDGET_S", 45.0)
LLM_BACKOFF_BASE_S = env_float("LLM_BACKOFF_BASE_S", 0.5)

# --- Retrieval with a key: Qwen's rerank model reorders the candidates, the fast model rewrites
# the question into a search query ("follow-ups": only questions after the first; "off": never).
RERANK_PROVIDER = env_choice(
    "RERANK_PROVIDER", "qwen" if QWEN_API_KEY else "none", {"qwen", "none"}
)
QWEN_RERANK_MODEL = env_str("QWEN_RERANK_MODEL", "gte-rerank-v2")
# Text in images (scanned PDF pages, screenshots): RapidOCR offline, or Qwen's vision OCR model.
OCR_PROVIDER = env_choice("OCR_PROVIDER", "rapidocr", {"rapidocr", "qwen"})
QWEN_OCR_MODEL = env_str("QWEN_OCR_MODEL", "qwen-vl-ocr")
OCR_MAX_PIXELS = env_int("OCR_MAX_PIXELS", 40_000_000, minimum=1)  # per image or page
OCR_MAX_PAGES = env_int("OCR_MAX_PAGES", 300, minimum=1)  # pages read by OCR per document
OCR_MAX_SECONDS = env_float("OCR_MAX_SECONDS", 900.0)  # OCR time per document
# RapidOCR's speed against its accuracy (README, Benchmarks): how long a side the text detector
# sees, how high each line is read (0: by its size), whether lines are checked for being upside
# down.
OCR_DETECTION_SIDE = env_int("OCR_DETECTION_SIDE", 1280, minimum=320)
OCR_LINE_HEIGHT = env_int("OCR_LINE_HEIGHT", 0, minimum=0)
OCR_ANGLES = env_bool("OCR_ANGLES", False)
QWEN_RERANK_URL = env_str("QWEN_RERANK_URL")  # empty: text-rerank on QWEN_BASE_URL's host
RERANK_CANDIDATES = env_int("RERANK_CANDIDATES", 30, minimum=2)
# A local model on CPU takes seconds to rewrite, so it rewrites only follow-ups by default.
QUERY_REWRITE = env_choice(
    "QUERY_REWRITE",
    "always" if ANSWER_PROVIDER == "qwen" else "follow-ups",
    {"always", "follow-ups", "off"},
)

# --- Embeddings: one vector space per deployment -----------------------------------------------
EMBEDDING_PROVIDER = env_choice("EMBEDDING_PROVIDER", "local", {"local", "qwen"})
EMBEDDING_MODEL = env_str(
    "EMBEDDING_MODEL",
    "text-embedding-v4"
    if EMBEDDING_PROVIDER == "qwen"
    else "universal-sentence-encoder-multilingual-3",
)
# The local encoder's width is fixed by the model; text-embedding-v4 lets us choose.
EMBEDDING_DIMENSIONS = (
    env_int("EMBEDDING_DIMENSIONS", 1024, minimum=64) if EMBEDDING_PROVIDER == "qwen" else 512
)
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 2, minimum=1)
# Documents `manage.py ingest --wait` works on at once, each in a process of its own.
INGEST_PROCESSES = env_int("INGEST_PROCESSES", os.cpu_count() or 1, minimum=1)
# An English leg beside the local multilingual embedder (all-MiniLM-L6-v2, local, no key).
EMBEDDING_EN = env_choice(
    "EMBEDDING_EN", "minilm" if EMBEDDING_PROVIDER == "local" else "none", {"minilm", "none"}
)
# A document is READY without it: its passages wait for the English leg's vectors, which workers
# on the `backfill` queue fill this many passages per transaction (ingest.backfill).
BACKFILL_BATCH = env_int("BACKFILL_BATCH", 256, minimum=1)

# --- Limits and quotas ---------------------------------------------------------------------------
UPLOAD_MAX_MB = env_int("UPLOAD_MAX_MB", 50, minimum=1)
UPLOAD_MAX_PAGES = env_int("UPLOAD_MAX_PAGES", 2000, minimum=1)
# Per-user quota defaults; overrides per user or group in the admin. 0 = no limit.
QUOTA_QUESTIONS_PER_DAY = env_int("QUOTA_QUESTIONS_PER_DAY", 200, minimum=0)
QUOTA_TOKENS_PER_DAY = env_int("QUOTA_TOKENS_PER_DAY", 200_000, minimum=0)
QUOTA_COST_PER_MONTH = env_float("QUOTA_COST_PER_MONTH", 20.0)  # USD
# Abuse limits: answers one user may have open at once, the longest question, login attempts.
MAX_OPEN_STREAMS_PER_USER = env_int("MAX_OPEN_STREAMS_PER_USER", 3, minimum=0)
# Threads the answer streams of one web process share for their database work (assistant/asgi.py).
STREAM_THREADS = env_int("STREAM_THREADS", 4, minimum=1)
QUESTION_MAX_CHARS = env_int("QUESTION_MAX_CHARS", 4000, minimum=10)
LOGIN_ATTEMPTS_PER_ACCOUNT = env_int("LOGIN_ATTEMPTS_PER_ACCOUNT", 5, minimum=1)
LOGIN_ATTEMPTS_PER_ADDRESS = env_int("LOGIN_ATTEMPTS_PER_ADDRESS", 20, minimum=1)
LOGIN_WINDOW_S = env_int("LOGIN_WINDOW_S", 900, minimum=1)
# Who may sign in with a password kept here: everyone, or only superusers (the first admin) where
# people sign in through the company's identity provider or directory.
PASSWORD_LOGIN = env_choice("PASSWORD_LOGIN", "everyone", {"everyone", "superusers"})
# Directory groups (an OpenID Connect group claim's values, LDAP group DNs) to groups here, added
# to the mappings kept in the admin: '{"cn=support,ou=groups,dc=example,dc=org": ["staff"]}'.
DIRECTORY_GROUP_MAP = env_group_map("DIRECTORY_GROUP_MAP")
AUTHENTICATION_BACKENDS = [
    "assistant.accounts.backends.PasswordBackend",
    "assistant.accounts.backends.DirectoryBackend",
]
# --- LDAP / Active Directory sign-in (assistant/accounts/ldap.py): off while LDAP_SERVER_URI is
# empty. The README's "LDAP / Active Directory" part says what each of these does.
LDAP_SERVER_URI = env_str("LDAP_SERVER_URI")
if LDAP_SERVER_URI:
    globals().update(
        ldap_settings.auth_ldap_settings(
            server_uri=LDAP_SERVER_URI,
            bind_dn=env_str("LDAP_BIND_DN"),
            bind_password=env_str("LDAP_BIND_PASSWORD"),
            user_search_base=env_str("LDAP_USER_SEARCH_BASE"),
            user_filter=env_str("LDAP_USER_FILTER", "(uid=%(user)s)"),
            user_dn_template=env_str("LDAP_USER_DN_TEMPLATE"),
            start_tls=env_bool("LDAP_START_TLS", False),
            ca_file=env_str("LDAP_CA_FILE"),
            tls_verify=env_bool("LDAP_TLS_VERIFY", True),
            group_search_base=env_str("LDAP_GROUP_SEARCH_BASE"),
            group_type=env_str("LDAP_GROUP_TYPE", "groupOfNames"),
            attributes={
                "first_name": env_str("LDAP_ATTR_FIRST_NAME", "givenName"),
                "last_name": env_str("LDAP_ATTR_LAST_NAME", "sn"),
                "email": env_str("LDAP_ATTR_EMAIL", "mail"),
            },
            timeout_s=env_int("LDAP_TIMEOUT_S", 5, minimum=1),
        )
    )
    AUTHENTICATION_BACKENDS.append("assistant.accounts.ldap.LDAPBackend")
# --- Sign-in with the company's OpenID Connect provider (assistant/accounts/oidc.py) -------------
# Off while OIDC_ISSUER is empty; the provider's endpoints and keys come from its discovery
# document, OIDC_ISSUER/.well-known/openid-configuration.
OIDC_ISSUER = env_url("OIDC_ISSUER")
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET")  # empty: a public client (PKCE only)
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid email profile")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME")  # the button's "Sign in with …"
OIDC_CLOCK_SKEW_S = env_int("OIDC_CLOCK_SKEW_S", 60, minimum=0)
OIDC_TIMEOUT_S = env_float("OIDC_TIMEOUT_S", 10.0)
# The site's address as browsers reach it ("https://assistant.example.com"); empty: taken from
# each request (its Host header and scheme). The redirect URI is this + /accounts/oidc/callback.
OIDC_PUBLIC_URL = env_url("OIDC_PUBLIC_URL").rstrip("/")
if OIDC_ISSUER and not OIDC_CLIENT_ID:
    raise ImproperlyConfigured("OIDC_ISSUER is set: set OIDC_CLIENT_ID too")
if OIDC_ISSUER:
    # The sign-out form is redirected on to the provider's end-session page.
    _issuer = urlsplit(OIDC_ISSUER)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(
        f"{_issuer.scheme}://{_issuer.netloc}"
    )
# The longest period the usage dashboard and its CSV export cover (charts bucket past 90 days).
USAGE_MAX_DAYS = env_int("USAGE_MAX_DAYS", 731, minimum=1)
# The most collection ids one ask or search may name.
MAX_COLLECTION_IDS = env_int("MAX_COLLECTION_IDS", 200, minimum=1)

# USD per million tokens (input:output). Defaults are list prices to check against your contract.
MODEL_PRICES = {
    "qwen-turbo": (0.05, 0.20),
    "qwen-plus": (0.40, 1.20),
    "qwen-max": (1.60, 6.40),
    "text-embedding-v4": (0.07, 0.0),
    "gte-rerank-v2": (0.11, 0.0),
    **env_prices("MODEL_PRICES"),
}

# E-mail (password resets): EMAIL_URL, else files under var/mail/ (see assistant.lib.mail).
globals().update(mail.settings_from_url(env_str("EMAIL_URL"), default_folder=VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "assistant@localhost")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_S", 10, minimum=1)

# Log lines carry the request id and user id; "json" writes one JSON object per line.
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", {"plain", "json"})
# Keep the X-Request-ID a proxy in front of us sends (else every request gets a new id); only
# turn this on behind a proxy that sets or strips the header, since a client could send any id.
REQUEST_ID_FROM_HEADER = env_bool("REQUEST_ID_FROM_HEADER", False)
# /metrics answers the bearer token METRICS_TOKEN, or a scraper at one of these addresses or
# networks ("10.0.0.5,10.1.0.0/16"); with neither set it answers nobody.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_ADDRESSES = env_networks("METRICS_ALLOWED_ADDRESSES")
# Audit entries older than this many days are deleted once a day (0: kept for ever).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=0)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"lines": {"()": "assistant.lib.log_format.formatter", "kind": LOG_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "lines"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Ingestion ---------------------------------------------------------------------------------
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
# Every stage renews it between batches (a long parse too): a minute is room for one batch.
INGEST_LEASE_S = env_int("INGEST_LEASE_S", 60, minimum=1)
# A QUEUED document no task has taken for this long is queued again by the sweeper.
INGEST_QUEUED_STALE_S = env_int("INGEST_QUEUED_STALE_S", 60, minimum=1)
CHUNK_TARGET_TOKENS = env_int("CHUNK_TARGET_TOKENS", 300, minimum=50)
CHUNK_OVERLAP_TOKENS = env_int("CHUNK_OVERLAP_TOKENS", 50, minimum=0)
DOCX_MAX_UNCOMPRESSED_MB = env_int("DOCX_MAX_UNCOMPRESSED_MB", 200, minimum=1)
# Every parse of an uploaded or synced file runs in a child process inside these limits: memory
# it may take beyond what the worker holds, seconds (wall clock; CPU time as many per core), and
# the text kept from one document.
PARSE_MAX_MEMORY_MB = env_int("PARSE_MAX_MEMORY_MB", 2048, minimum=64)
PARSE_MAX_SECONDS = env_float("PARSE_MAX_SECONDS", 1200.0)
PARSE_MAX_TEXT_MB = env_int("PARSE_MAX_TEXT_MB", 64, minimum=1)
# --- Sources (websites and folders synced on a schedule; see ingest/sources) ---------------------
SOURCES_USER_AGENT = env_str(
    "SOURCES_USER_AGENT", "QwenAssistantBot/0.1 (knowledge assistant; honours robots.txt)"
)
# Hosts a website source may reach although they resolve to private, loopback or link-local
# addresses (an intranet wiki); none by default.
SOURCES_ALLOWED_PRIVATE_HOSTS = env_list("SOURCES_ALLOWED_PRIVATE_HOSTS", [])
# The longest one request (redirects included) may take, in seconds.
SOURCES_TIMEOUT_S = env_float("SOURCES_TIMEOUT_S", 20.0)
# A sync renews its lock after every page or file; a lock this old lost its worker.
SOURCES_SYNC_LEASE_S = env_int("SOURCES_SYNC_LEASE_S", 120, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "sync-due-sources": {
        "task": "ingest.tasks.sync_due_sources",
        "schedule": env_int("SOURCES_SWEEP_S", 60, minimum=1),
    },
    "requeue-stale-documents": {
        "task": "ingest.tasks.requeue_stale_documents",
        "schedule": env_int("INGEST_SWEEP_S", 30, minimum=1),
    },
    # Picks up a backfill whose worker died (its batch rolled back) or whose message was lost.
    "fill-background-legs": {
        "task": "ingest.tasks.fill_background_legs",
        "schedule": env_int("INGEST_SWEEP_S", 30, minimum=1),
    },
    "prune-audit-log": {
        "task": "assistant.audit.tasks.prune_audit_log",
        "schedule": 24 * 3600,
    },
    "close-abandoned-answers": {
        "task": "assistant.chat.tasks.close_abandoned_answers",
        "schedule": env_int("ANSWER_SWEEP_S", 20, minimum=1),
    },
}
