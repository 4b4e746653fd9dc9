from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
# Tasks run where they are enqueued, so a test sees their effect at once; tests/test_tasks.py runs
# the real database queue and its worker.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
# Each test process keeps its own generated files: tests count how often one is made.
CACHES = {**CACHES, "documents": {**CACHES["documents"], "BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}  # noqa: F405
