"""gunicorn in production (and in the benchmark): `gunicorn -c config/gunicorn.conf.py config.wsgi`."""

import os

bind = os.environ.get("CADRE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
