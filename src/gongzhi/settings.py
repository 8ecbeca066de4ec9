"""Django settings. Every value that differs between machines comes from
:mod:`gongzhi.config` (environment variables); nothing here needs editing."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from gongzhi import config

PACKAGE_DIR = Path(__file__).resolve().parent
GONGZHI_ENV = config.environment()
DATA_DIR = config.data_dir()
if GONGZHI_ENV == "test":
    import tempfile

    import atexit
    import shutil

    DATA_DIR = Path(tempfile.mkdtemp(prefix="gongzhi-test-"))
    atexit.register(shutil.rmtree, DATA_DIR, ignore_errors=True)

SECRET_KEY = config.secret_key(mode=GONGZHI_ENV)
DEBUG = GONGZHI_ENV == "development"  # not in demo: debug mode logs every query
ALLOWED_HOSTS = [h.strip() for h in config.os.environ.get("GONGZHI_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
if GONGZHI_ENV == "test":
    ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "gongzhi.accounts",
    "gongzhi.audit",
    "gongzhi.registry",
    "gongzhi.sharing",
    "gongzhi.observations",
    "gongzhi.ingest",
    "gongzhi.assessment",
    "gongzhi.notifications",
    "gongzhi.alerts",
    "gongzhi.web",
    "gongzhi.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "gongzhi.web.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gongzhi.audit.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gongzhi.urls"
WSGI_APPLICATION = "gongzhi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE = config.database({**config.os.environ, "GONGZHI_DATA_DIR": str(DATA_DIR)})
DATABASES = {"default": DATABASE.django()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # generated demo passwords only; upgraded to the default at first login
    "gongzhi.accounts.hashers.DemoPBKDF2PasswordHasher",
]
if GONGZHI_ENV == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # speed only, tests

# Chinese first, English second (ARCHITECTURE principle 7).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Leaflet/ECharts/htmx are copied into gongzhi/web/static/vendor/ at set-up (make web-assets);
# the app static finder serves them, collectstatic collects them (docs/web.md).

# The one map draws a base tile layer only when an intranet tile server is configured,
# e.g. GONGZHI_TILE_URL=https://tiles.bureau.example/{z}/{x}/{y}.png; without it the map
# shows boundaries and waters only (works with no tiles and no internet).
GONGZHI_TILE_URL = config.os.environ.get("GONGZHI_TILE_URL", "")
GONGZHI_TILE_ATTRIBUTION = config.os.environ.get("GONGZHI_TILE_ATTRIBUTION", "")
if GONGZHI_ENV == "test":
    STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request when it is missing

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
if GONGZHI_ENV == "production":
    SESSION_COOKIE_SECURE = config.os.environ.get("GONGZHI_SECURE_COOKIES", "1") == "1"
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # propagate False: waitress gives the root logger a handler of its own (basicConfig), which
    # would print every gongzhi line a second time
    "loggers": {"gongzhi": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}

# Notifications (docs/notifications.md): channels by dotted path, retries, SMTP from the environment.
GONGZHI_NOTIFICATION_CHANNELS = config.notification_channels()
GONGZHI_NOTIFICATION_MAX_ATTEMPTS = int(config.os.environ.get("GONGZHI_NOTIFICATION_MAX_ATTEMPTS", "8"))
GONGZHI_NOTIFICATION_RETRY_BASE = float(config.os.environ.get("GONGZHI_NOTIFICATION_RETRY_BASE", "30"))
GONGZHI_NOTIFICATION_RETRY_CAP = float(config.os.environ.get("GONGZHI_NOTIFICATION_RETRY_CAP", "3600"))
GONGZHI_NOTIFICATION_COMMAND = config.os.environ.get("GONGZHI_NOTIFICATION_COMMAND", "")
GONGZHI_NOTIFICATION_COMMAND_TIMEOUT = float(config.os.environ.get("GONGZHI_NOTIFICATION_COMMAND_TIMEOUT", "10"))
GONGZHI_BASE_URL = config.os.environ.get("GONGZHI_BASE_URL", "")
_email = config.email(mode=GONGZHI_ENV, root=DATA_DIR)
EMAIL_BACKEND = _email.backend
EMAIL_FILE_PATH = str(_email.file_path)
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
EMAIL_TIMEOUT = _email.timeout
DEFAULT_FROM_EMAIL = _email.from_address
SERVER_EMAIL = _email.from_address
