"""Settings for the CRM, read from the environment through :func:`crm_site.env.env`.

With no environment at all the product runs on a laptop: SQLite inside the project, a Celery
broker made of files under .run/broker/ (``scripts/run`` starts the worker and beat on it). DEBUG is
off unless turned on (``scripts/run`` turns it on for itself), and with it off HTTPS redirects,
secure cookies and HSTS are on, so a forgotten variable never leaves production in development
mode. Production sets SECRET_KEY (or lets one be generated into SECRET_KEY_FILE), ALLOWED_HOSTS,
DATABASE_URL and CELERY_BROKER_URL (see README "Configuration", "Modes" and "Security").
"""
import os
from datetime import date, timedelta
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .broker import folders as broker_folders
from .env import env, to_bool, to_choice, to_currency, to_database, to_float, to_int, to_list
from .secret_key import secret_key_from_file

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = Path(env("RUN_DIR", str(BASE_DIR / ".run")))

DEBUG = env("DEBUG", False, to_bool)
# Under pytest the test client and the live test servers speak plain HTTP on loopback and no
# collectstatic has run: the HTTPS defaults below and the manifest static storage start off there
# (each can still be set from the environment). Every other process gets the production defaults.
_UNDER_PYTEST = "PYTEST_VERSION" in os.environ
_HTTPS_DEFAULTS = not DEBUG and not _UNDER_PYTEST

# Never a constant in the code: given in the environment, or generated once per installation into
# a file only the owner can read (crm_site/secret_key.py). Every process of an installation (web,
# worker, beat) must read the same file: set SECRET_KEY_FILE to a shared path when they do not
# share the project directory.
SECRET_KEY_FILE = Path(env("SECRET_KEY_FILE", str(RUN_DIR / "secret_key")))
SECRET_KEY = env("SECRET_KEY", "") or secret_key_from_file(SECRET_KEY_FILE)

ALLOWED_HOSTS = env("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"], to_list)
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS", [], to_list)

INSTALLED_APPS = [
    "crm_site.apps.CrmAdminConfig",  # django.contrib.admin with the PII-guarding site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "django_celery_beat",
    "django_celery_results",
    "anymail",
    "core",
    "customers",
    "intake",
    "webhooks",
    "analytics",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.api.bodysize.ApiBodySizeMiddleware",  # before CSRF, which may read the body
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Last, as django-axes asks: it turns a lockout into the response of core.login_throttle.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes, https://django-axes.readthedocs.io/en/latest/4_configuration.html):
# the axes backend comes first and refuses a locked-out username + address pair before any
# password is checked. Counted in the database, so every web process sees the same count.
AUTHENTICATION_BACKENDS = [
    "core.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env("LOGIN_FAILURE_LIMIT", 5, to_int)
AXES_COOLOFF_TIME = timedelta(minutes=env("LOGIN_LOCKOUT_MINUTES", 15, to_int))
# Per username and client address together: a guesser is stopped on that account, and the same
# user logging in from another address is not locked out by someone else's guesses.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Its start-up banner would land in every command's output (JSON included).
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "core.login_throttle.locked_out_response"
# Passwords are never stored in the attempt log; the username is.
AXES_SENSITIVE_PARAMETERS = ["password"]
# The client's address is REMOTE_ADDR only, which a client cannot choose (X-Forwarded-For can be
# sent by anyone to get a fresh counter). Behind a proxy that is the proxy's address: the lock is
# then in effect per username.
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

ROOT_URLCONF = "crm_site.urls"
WSGI_APPLICATION = "crm_site.wsgi.application"

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
                "django.template.context_processors.i18n",
                "core.navigation.navigation",
            ],
        },
    },
]

DATABASES = {"default": env("DATABASE_URL", {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": BASE_DIR / "db.sqlite3",
}, to_database)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Keep connections between requests; a worker process re-uses its connection.
    DATABASES["default"]["CONN_MAX_AGE"] = env("DATABASE_CONN_MAX_AGE", 60, to_int)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has several writers at once (the web server, the worker's processes,
    # beat), so SQLite is set up not to answer "database is locked" (https://sqlite.org/wal.html,
    # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-transaction-behavior):
    # - WAL: readers never block the writer and the writer never blocks readers; synchronous=NORMAL
    #   is safe in WAL mode (a power cut may lose the last commits, never corrupt the file).
    # - IMMEDIATE: a transaction takes the write lock when it begins. A deferred one that reads,
    #   then writes, fails at once when another writer came first (SQLite cannot wait there
    #   without a deadlock); an immediate one waits for the lock like any other.
    # - timeout: how long a writer waits for the lock, in seconds. It must outlast the longest
    #   write transaction, the end of a full score run (README "Modes").
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env("SQLITE_TIMEOUT", 60, to_int),
    })
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "UTC")
# The currency of every amount in the data (orders, CLV, campaign costs), as an ISO 4217 code;
# pages format it for the reader's language (core/formatting.py), exports name it in the header.
CURRENCY = env("CURRENCY", "CNY", to_currency)
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where uploads, rejected-row files and other files the product keeps live. "filesystem" keeps
# them under MEDIA_ROOT, which only this machine reads (the embedded default). "s3" keeps them in
# an S3-compatible bucket (AWS S3, MinIO, Ceph ...) through django-storages, so a web machine and
# a worker machine that share nothing else see the same files. The bucket stays private: files are
# only ever handed out by views that check the user's role, never by a public or signed URL.
STORAGE_BACKEND = env("STORAGE_BACKEND", "filesystem", to_choice("filesystem", "s3"))
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME", ""),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env("AWS_S3_REGION_NAME", "") or None,
            "access_key": env("AWS_ACCESS_KEY_ID", "") or None,
            "secret_key": env("AWS_SECRET_ACCESS_KEY", "") or None,
            "location": env("AWS_LOCATION", ""),
            "default_acl": None,
            "querystring_auth": True,
            # Two uploads with one name never overwrite each other.
            "file_overwrite": False,
        },
    }
    if not _default_storage["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs AWS_STORAGE_BUCKET_NAME.")
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and not _UNDER_PYTEST else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = env("MEDIA_ROOT", str(BASE_DIR / "media"))
# Uploads and the rejected-rows files of imports live here, read and written through Django's
# storage API (default_storage). No URL serves this folder: the files are private and reach a
# person only through the import views, which check who asks (intake/views.py).
MEDIA_URL = "media/"

# Imports (intake/readers.py, intake/services/jobs.py). An upload over IMPORT_MAX_UPLOAD_MB is
# refused as it arrives; a cell over IMPORT_MAX_CELL_CHARS (Excel's own cell limit by default)
# or a file of more than IMPORT_MAX_COLUMNS columns is refused with the line named;
# an XLSX whose parts unpack to more than IMPORT_MAX_XLSX_UNCOMPRESSED_MB (a zip bomb) is refused
# before it is parsed. Uploads and rejected-rows files are deleted after IMPORT_RETENTION_DAYS.
IMPORT_MAX_UPLOAD_MB = env("IMPORT_MAX_UPLOAD_MB", 100, to_int)
IMPORT_MAX_CELL_CHARS = env("IMPORT_MAX_CELL_CHARS", 32_767, to_int)
IMPORT_MAX_COLUMNS = env("IMPORT_MAX_COLUMNS", 500, to_int)
IMPORT_MAX_XLSX_UNCOMPRESSED_MB = env("IMPORT_MAX_XLSX_UNCOMPRESSED_MB", 1024, to_int)
IMPORT_RETENTION_DAYS = env("IMPORT_RETENTION_DAYS", 30, to_int)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Security: strict by default whenever DEBUG is off; each can be relaxed from the environment
# (for example SECURE_SSL_REDIRECT=false behind a proxy that already redirects, or for plain HTTP
# on loopback as scripts/fuzz does).
SECURE_SSL_REDIRECT = env("SECURE_SSL_REDIRECT", _HTTPS_DEFAULTS, to_bool)
SESSION_COOKIE_SECURE = env("SESSION_COOKIE_SECURE", _HTTPS_DEFAULTS, to_bool)
CSRF_COOKIE_SECURE = env("CSRF_COOKIE_SECURE", _HTTPS_DEFAULTS, to_bool)
SECURE_HSTS_SECONDS = env("SECURE_HSTS_SECONDS", 31_536_000 if _HTTPS_DEFAULTS else 0, to_int)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env("SECURE_HSTS_INCLUDE_SUBDOMAINS", _HTTPS_DEFAULTS, to_bool)
SECURE_HSTS_PRELOAD = env("SECURE_HSTS_PRELOAD", _HTTPS_DEFAULTS, to_bool)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env(
    "TRUST_X_FORWARDED_PROTO", False, to_bool) else None
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Django's debug page (DEBUG on) and error e-mails list the settings; this filter hides every
# setting whose name says it holds a credential, and any URL's password wherever it appears
# (a broker or database URL under another name). See core/debug.py.
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.debug.CredentialHidingFilter"

# Celery. The embedded default needs no server: kombu's filesystem transport keeps the queue as
# files under RUN_DIR/broker/ (crm_site/broker.py); production sets a Redis URL.
_broker_url = env("CELERY_BROKER_URL", "")
CELERY_BROKER_URL = _broker_url or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {**broker_folders(RUN_DIR / "broker"),
                                       # seconds between looks at the folder
                                       "polling_interval": 0.2}
# TASKS_EAGER: run every task in the calling process, with no worker. For tests only (a page
# would wait for a whole score run); the default is eager only under pytest without a broker.
TASKS_EAGER = env("TASKS_EAGER", not _broker_url and "PYTEST_VERSION" in os.environ, to_bool)
CELERY_TASK_ALWAYS_EAGER = TASKS_EAGER
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", "django-db")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env("CELERY_TASK_TIME_LIMIT", 3600, to_int)
CELERY_TASK_SOFT_TIME_LIMIT = env("CELERY_TASK_SOFT_TIME_LIMIT", 3300, to_int)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The periodic schedule lives here and only here (django-celery-beat copies it into its tables,
# where an admin can pause it).
CELERY_BEAT_SCHEDULE = {
    "nightly-full-score-run": {
        "task": "analytics.tasks.score_run_nightly",
        "schedule": crontab(hour=env("SCORE_RUN_HOUR", 2, to_int), minute=0),
    },
    # Campaign results: refresh running campaigns; finishes those whose window has closed.
    "campaign-results-refresh": {
        "task": "campaigns.tasks.campaign_results_refresh_running",
        "schedule": crontab(minute=15, hour="*/6"),
    },
    # Leases (core/leases.py): a score run or an import job whose worker died shows as failed at
    # once (pages read its lease); these sweeps record it, so no page load has to write.
    "score-runs-expire": {
        "task": "analytics.tasks.score_runs_expire",
        "schedule": crontab(minute="*"),
    },
    "import-jobs-expire": {
        "task": "intake.tasks.import_jobs_expire",
        "schedule": crontab(minute="*"),
    },
    # Campaigns: launch scheduled campaigns on their start date; finish those whose attribution
    # window has closed (campaigns/services.py campaign_schedule_tick).
    "campaigns-schedule-tick": {
        "task": "campaigns.tasks.campaign_schedule_tick",
        "schedule": crontab(minute="*/5"),
    },
    # Imports: delete uploads and rejected-rows files older than IMPORT_RETENTION_DAYS.
    "import-files-expire": {
        "task": "intake.tasks.import_files_expire",
        "schedule": crontab(hour=3, minute=30),
    },
    # Webhooks: re-queue pending deliveries whose message was lost (webhooks/services.py).
    "webhook-deliveries-resume": {
        "task": "webhooks.tasks.webhook_deliveries_resume",
        "schedule": crontab(minute="*/10"),
    },
}

REDIS_URL = env("REDIS_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",  # refuses unpaired surrogates with a 400
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.api.errors.ErrorResponseAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["core.api.throttling.ApiUserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env("API_THROTTLE_RATE", "5000/hour")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM API",
    "DESCRIPTION": "Customers, orders, feedback and the scores computed on them.",
    "VERSION": "0.1.0",
    # Swagger UI's files come from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "customers.models.Channel",
        "CustomerStatusEnum": "customers.models.CustomerStatus",
        "OrderStatusEnum": "customers.models.OrderStatus",
        "InteractionKindEnum": "customers.models.InteractionKind",
        "LevelEnum": "customers.models.Level",
        "ScoreRunStatusEnum": "analytics.models.ScoreRun.Status",
        "ScoreRunKindEnum": "analytics.models.ScoreRun.Kind",
        "CampaignKindEnum": "campaigns.models.Campaign.Kind",
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "CampaignChannelEnum": "campaigns.models.Campaign.Channel",
        "ImportJobStatusEnum": "intake.models.ImportJob.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.WebhookDelivery.Status",
    },
}

# Business settings.
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", "CN")
CHURN_WINDOW_DAYS = env("CHURN_WINDOW_DAYS", 90, to_int)
# The learning loop (analytics/services/history.py). A full run keeps its predictions when no kept
# run lies within PREDICTION_HISTORY_EVERY_DAYS before it; kept predictions are dropped after
# PREDICTION_HISTORY_RETENTION_DAYS (longer than the longest horizon, CLV's 365 days). Realised
# accuracy drifts when the calibration error of the served churn probabilities exceeds
# MODEL_DRIFT_CALIBRATION_ERROR, or the orders or spend observed are off from the predicted total
# by more than MODEL_DRIFT_VOLUME_RATIO either way.
PREDICTION_HISTORY_EVERY_DAYS = env("PREDICTION_HISTORY_EVERY_DAYS", 7, to_int)
PREDICTION_HISTORY_RETENTION_DAYS = env("PREDICTION_HISTORY_RETENTION_DAYS", 800, to_int)
MODEL_DRIFT_CALIBRATION_ERROR = env("MODEL_DRIFT_CALIBRATION_ERROR", 0.10, to_float)
MODEL_DRIFT_VOLUME_RATIO = env("MODEL_DRIFT_VOLUME_RATIO", 1.5, to_float)
# Churn label (analytics.engine.churn.churn_label): "auto" trains on the customers' status when at
# least CHURN_EXPLICIT_MIN_CHURNED customers, and CHURN_EXPLICIT_MIN_SHARE of them, are churned
# by status and fewer than half have orders (a contract business); "behavioural" or "explicit"
# forces one.
def _churn_label(raw: str) -> str:
    if raw not in ("auto", "behavioural", "explicit"):
        raise ValueError("expected auto, behavioural or explicit")
    return raw


CHURN_LABEL = env("CHURN_LABEL", "auto", _churn_label)
CHURN_EXPLICIT_MIN_CHURNED = env("CHURN_EXPLICIT_MIN_CHURNED", 50, to_int)
CHURN_EXPLICIT_MIN_SHARE = env("CHURN_EXPLICIT_MIN_SHARE", 0.05, float)
# Customers per ranking task of a full run. Each task reads its customers' order lines and ranks
# them in blocks (analytics.engine.recommend.SCORE_BLOCK), so its memory stays flat; 25,000 gives
# four tasks at 100,000 customers (two workers stay busy) and forty at a million, small enough
# that a task redelivered after its worker died repeats seconds of work, not minutes.
SCORE_RUN_CHUNK_CUSTOMERS = env("SCORE_RUN_CHUNK_CUSTOMERS", 25_000, to_int)

# Bounds of the records (customers.bounds): event dates (orders, feedback, interactions, signups)
# must lie between DATA_EARLIEST_DATE and DATA_MAX_FUTURE_DAYS days after now; birth dates must not
# be in the future. The database constraints hold the fixed floor customers.bounds.DB_EARLIEST_DATE
# (1900-01-01); the setting may only raise it.
def _date(raw: str) -> date:
    return date.fromisoformat(raw.strip())


DATA_EARLIEST_DATE = env("DATA_EARLIEST_DATE", date(1900, 1, 1), _date)
if DATA_EARLIEST_DATE < date(1900, 1, 1):
    raise ImproperlyConfigured("DATA_EARLIEST_DATE must be 1900-01-01 or later")
DATA_MAX_FUTURE_DAYS = env("DATA_MAX_FUTURE_DAYS", 1, to_int)
# Chinese sentiment (SnowNLP) costs time in the square of the text's length: only the first
# FEEDBACK_ANALYSIS_MAX_CHARS characters are analysed, in pieces of FEEDBACK_ANALYSIS_PIECE_CHARS.
FEEDBACK_ANALYSIS_MAX_CHARS = env("FEEDBACK_ANALYSIS_MAX_CHARS", 5_000, to_int)
FEEDBACK_ANALYSIS_PIECE_CHARS = env("FEEDBACK_ANALYSIS_PIECE_CHARS", 500, to_int)
# Largest JSON body of the bulk API endpoints (POST /api/imports/<kind>/, 10,000 records); other
# requests keep Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
API_BULK_MAX_BODY_SIZE = env("API_BULK_MAX_BODY_SIZE", 20 * 1024 * 1024, to_int)
# Webhooks (webhooks/addresses.py, webhooks/transport.py). Endpoints must be public internet
# addresses unless WEBHOOK_ALLOW_PRIVATE_HOSTS is on (a receiver on the same network, tests with a
# local receiver); each attempt has WEBHOOK_TIMEOUT_SECONDS in all, under the delivery task's
# 100 s soft time limit (webhooks/tasks.py).
def _webhook_timeout(raw: str) -> float:
    seconds = float(raw)
    if not 0 < seconds <= 90:
        raise ValueError("expected seconds above 0 and at most 90")
    return seconds


WEBHOOK_ALLOW_PRIVATE_HOSTS = env("WEBHOOK_ALLOW_PRIVATE_HOSTS", False, to_bool)
WEBHOOK_TIMEOUT_SECONDS = env("WEBHOOK_TIMEOUT_SECONDS", 10.0, _webhook_timeout)
# E-mail: Django's own settings names (https://docs.djangoproject.com/en/5.2/topics/email/).
# The embedded default keeps every message in the outbox staff open at /campaigns/outbox/;
# django.core.mail.backends.smtp.EmailBackend sends through EMAIL_HOST, an anymail backend
# (for example anymail.backends.postmark.EmailBackend) through a provider configured by ANYMAIL.
EMAIL_BACKEND = env("EMAIL_BACKEND", "campaigns.mail.OutboxBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env("EMAIL_PORT", 25, to_int)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env("EMAIL_USE_TLS", False, to_bool)
EMAIL_USE_SSL = env("EMAIL_USE_SSL", False, to_bool)
EMAIL_TIMEOUT = env("EMAIL_TIMEOUT", 30, to_int)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "crm@localhost")
# django-anymail (https://anymail.dev/en/stable/installation/): the provider's keys and the
# shared secret its tracking webhooks authenticate with (basic auth "user:password").
ANYMAIL = {key: value for key, value in {
    "WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", ""),
    "POSTMARK_SERVER_TOKEN": env("ANYMAIL_POSTMARK_SERVER_TOKEN", ""),
    "MAILGUN_API_KEY": env("ANYMAIL_MAILGUN_API_KEY", ""),
    "MAILGUN_WEBHOOK_SIGNING_KEY": env("ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY", ""),
    "SENDGRID_API_KEY": env("ANYMAIL_SENDGRID_API_KEY", ""),
}.items() if value}
# SMS: campaigns.sms.FileBackend (default, writes under SMS_FILE_DIR) or campaigns.sms.TwilioBackend.
SMS_BACKEND = env("SMS_BACKEND", "campaigns.sms.FileBackend")
SMS_FILE_DIR = env("SMS_FILE_DIR", str(RUN_DIR / "sms"))
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env("TWILIO_FROM_NUMBER", "")
# Campaign messages: the address links in messages point at (unsubscribe), the sender shown in
# the footer and a product link pattern ({sku} replaced; blank: no links). Prices are in CURRENCY.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")
CAMPAIGN_SENDER_NAME = env("CAMPAIGN_SENDER_NAME", "CRM")
CAMPAIGN_SENDER_ADDRESS = env("CAMPAIGN_SENDER_ADDRESS", "")
CAMPAIGN_PRODUCT_URL = env("CAMPAIGN_PRODUCT_URL", "")
# Messages a second one sending task sends per channel (0: no limit); the per-channel settings
# override the common one.
CAMPAIGN_SEND_RATE_PER_SECOND = env("CAMPAIGN_SEND_RATE_PER_SECOND", 20.0, float)
CAMPAIGN_SEND_RATES = {
    "email": env("CAMPAIGN_SEND_RATE_EMAIL", CAMPAIGN_SEND_RATE_PER_SECOND, float),
    "sms": env("CAMPAIGN_SEND_RATE_SMS", CAMPAIGN_SEND_RATE_PER_SECOND, float),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
