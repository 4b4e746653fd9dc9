"""Cadre settings: one module, everything overridable from the environment."""

import os
import warnings
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not env_bool("CADRE_INSECURE_DEFAULT_KEY", True):
        raise RuntimeError("DJANGO_SECRET_KEY must be set")
    # Local and demo use only; any shared deployment sets DJANGO_SECRET_KEY.
    SECRET_KEY = "insecure-local-key-cadre-do-not-use-in-production"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "cadre.core.admin_site.CadreAdminConfig",  # django.contrib.admin with its site (see there)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "cadre.core",  # before django.forms and dsfr: overrides the select widget and one of dsfr's form snippets
    "django.forms",
    "dsfr",
    "widget_tweaks",
    "django_htmx",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "cadre.accounts",
    "cadre.territories",
    "cadre.partners",
    "cadre.structures",
    "cadre.agreements",
    "cadre.funding",
    "cadre.observatory",
    "cadre.exchanges",
    "cadre.indicators",
    "cadre.monitoring",
    "cadre.api",
    "cadre.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Login is required everywhere unless a view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    # A signed-in account that owes a second factor (see CADRE_TWO_FACTOR_REQUIRED) reaches nothing else first.
    "cadre.accounts.middleware.TwoFactorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cadre.core.context_processors.operator",
            ],
        },
    },
]
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

DATABASES = {
    # An empty DATABASE_URL means the embedded default, SQLite.
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CADRE_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# Per process: only what is keyed so that it never goes stale (the users' scopes, see accounts.models.Scope).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 5000},
    },
    # Generated files (PDF copies, exports), keyed by what they are made of: on disk, shared by the
    # workers (each would otherwise make its own copy), few entries as each weighs up to a few megabytes.
    "documents": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        # Inside the project, not the shared temporary folder: these files hold what only some users may read.
        "LOCATION": os.environ.get("CADRE_DOCUMENTS_CACHE_DIR") or str(BASE_DIR / "var" / "documents"),
        "OPTIONS": {"MAX_ENTRIES": 200},
        "TIMEOUT": 24 * 3600,
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Answers only the ProConnect callback (and nothing while CADRE_PROCONNECT_* are unset).
    "cadre.accounts.proconnect.ProConnectBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:home"

# Login throttling: 5 failures lock the (user, IP) pair for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("CADRE_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "accounts/lockout.html"
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"

# Two-factor authentication (TOTP and recovery codes, django-otp): required of administrators and of every
# account with write rights over more than one structure (editors and managers of a partner, including the
# federation), offered to everyone else. `false` only offers it (nobody is made to enrol).
CADRE_TWO_FACTOR_REQUIRED = env_bool("CADRE_TWO_FACTOR_REQUIRED", True)
# Wrong one-time codes in a row that lock two-factor sign-in, and for how many minutes (as the password).
CADRE_TWO_FACTOR_FAILURE_LIMIT = int(os.environ.get("CADRE_TWO_FACTOR_FAILURE_LIMIT", "5"))
CADRE_TWO_FACTOR_LOCK_MINUTES = int(os.environ.get("CADRE_TWO_FACTOR_LOCK_MINUTES", "15"))
# The lock above is the throttle: django-otp's own back-off (1 s, 2 s, 4 s… after each failure) is off.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
OTP_TOTP_ISSUER = os.environ.get("CADRE_TWO_FACTOR_ISSUER") or os.environ.get("CADRE_SERVICE_TITLE", "Cadre")

# Personal data (see cadre/accounts/privacy.py and `manage.py expire_accounts`, run daily): the register of
# processings shown on « Données personnelles », the months without sign-in after which an account is deactivated
# (its owner is warned by e-mail a month before), and the days the sign-in journal is kept.
CADRE_PROCESSINGS_FILE = os.environ.get("CADRE_PROCESSINGS_FILE", str(BASE_DIR / "config" / "processings.toml"))
CADRE_INACTIVE_ACCOUNT_MONTHS = int(os.environ.get("CADRE_INACTIVE_ACCOUNT_MONTHS", "12"))
CADRE_ACCOUNT_EVENTS_RETENTION_DAYS = int(os.environ.get("CADRE_ACCOUNT_EVENTS_RETENTION_DAYS", "365"))
# Days an invitation link stays valid (resending gives it as many again).
CADRE_INVITATION_DAYS = int(os.environ.get("CADRE_INVITATION_DAYS", "7"))
# The address of this instance, for the links of e-mails sent outside a request (daily commands).
CADRE_SITE_URL = os.environ.get("CADRE_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# ProConnect (OpenID Connect) sign-in for agents of public bodies, beside e-mail and password: on when the
# issuer, client id and secret are set. Endpoints come from <issuer>/.well-known/openid-configuration.
CADRE_PROCONNECT = {
    "issuer": os.environ.get("CADRE_PROCONNECT_ISSUER", "").rstrip("/"),
    "client_id": os.environ.get("CADRE_PROCONNECT_CLIENT_ID", ""),
    "client_secret": os.environ.get("CADRE_PROCONNECT_CLIENT_SECRET", ""),
    "scopes": os.environ.get("CADRE_PROCONNECT_SCOPES", "openid email given_name usual_name siret idp_id"),
    "acr_values": os.environ.get("CADRE_PROCONNECT_ACR_VALUES", "eidas1"),
    # The algorithm the ID tokens and userinfo are signed with, as registered with ProConnect (RS256 or ES256).
    "sign_algo": os.environ.get("CADRE_PROCONNECT_SIGN_ALGO", "RS256"),
    "timeout": float(os.environ.get("CADRE_PROCONNECT_TIMEOUT", "10")),
}
# Behind a reverse proxy that terminates TLS, the addresses given to ProConnect (redirect_uri) must be https.
if env_bool("CADRE_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "fr-fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
FORMS_URLFIELD_ASSUME_HTTPS = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

EMAIL_BACKEND = os.environ.get("CADRE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("CADRE_FROM_EMAIL", "cadre@localhost")

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("CADRE_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

DSFR_MARK_OPTIONAL_FIELDS = True
DSFR_USE_INTEGRITY_CHECKSUMS = True

# The operator: the partnership that runs this instance. Shown in the header, footer and
# legal pages; the « République française » block appears only for a State service.
CADRE_OPERATOR = {
    "name": os.environ.get("CADRE_OPERATOR_NAME", "Convention cadre des centres sociaux"),
    "service_title": os.environ.get("CADRE_SERVICE_TITLE", "Cadre"),
    "tagline": os.environ.get(
        "CADRE_SERVICE_TAGLINE", "Le système d'information de la convention cadre des centres sociaux"
    ),
    "contact_email": os.environ.get("CADRE_CONTACT_EMAIL", "contact@cadre.demo"),
    "address": os.environ.get("CADRE_OPERATOR_ADDRESS", ""),
    "publication_director": os.environ.get("CADRE_PUBLICATION_DIRECTOR", "La présidence du comité de pilotage"),
    "host": os.environ.get("CADRE_HOST_NAME", "Hébergement à préciser par l'opérateur"),
    "is_state_service": env_bool("CADRE_OPERATOR_IS_STATE_SERVICE", False),
    "accessibility_status": os.environ.get("CADRE_ACCESSIBILITY_STATUS", "partiellement conforme"),
}

# Long work (imports, reports, refreshes) runs in `manage.py db_worker`, which reads this queue
# in the database: no broker to run. `make run` starts one beside the web server.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# Spreadsheet imports: a file up to this size is checked during the upload, and an import writing
# up to this many answers is applied on the click; beyond, the worker does it (progress shown).
# Documents deposited by structures (kept in the database): at most this many bytes each.
CADRE_DOCUMENT_MAX_BYTES = int(os.environ.get("CADRE_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024))
CADRE_IMPORT_INLINE_MAX_BYTES = int(os.environ.get("CADRE_IMPORT_INLINE_MAX_BYTES", 512 * 1024))
CADRE_IMPORT_INLINE_MAX_WRITES = int(os.environ.get("CADRE_IMPORT_INLINE_MAX_WRITES", 20_000))
# Registry imports (structures, partners): a file of more rows than this is applied by the worker.
CADRE_REGISTRY_INLINE_MAX_ROWS = int(os.environ.get("CADRE_REGISTRY_INLINE_MAX_ROWS", 500))

# Open data: no public value resting on fewer structures than this (statistical secrecy).
CADRE_OPEN_DATA_MIN_STRUCTURES = int(os.environ.get("CADRE_OPEN_DATA_MIN_STRUCTURES", 5))
# A full rebuild of the indicators computes that many years at once on PostgreSQL (one connection
# each): the database server's cores; 1 computes year by year.
CADRE_INDICATOR_WORKERS = int(os.environ.get("CADRE_INDICATOR_WORKERS", min(os.cpu_count() or 1, 4)))

# Paging of lists and the API.
CADRE_PAGE_SIZE = 25
CADRE_API_MAX_PAGE_SIZE = 200

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CADRE_LOG_LEVEL", "WARNING")},
}

# WhiteNoise serves from the app folders (finders) until `collectstatic` fills STATIC_ROOT.
warnings.filterwarnings("ignore", message="No directory at")
warnings.filterwarnings("ignore", message="Transitional Django setting DSFR_MARK_OPTIONAL_FIELDS")
