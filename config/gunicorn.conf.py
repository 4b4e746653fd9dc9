"""gunicorn in production (and in the benchmark): `gunicorn -c config/gunicorn.conf.py config.wsgi`."""

import gc
import os

bind = os.environ.get("CADRE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# What a worker loads to serve its first requests (Django, templates, URL patterns, the questionnaire and
# the territories' reference data) stays for its whole life. Frozen, the garbage collector no longer walks
# those few hundred thousand objects at each full collection: otherwise one request now and then paid a
# 100–200 ms pause. Collected first, so that no garbage is frozen with them.
FREEZE_AFTER_REQUESTS = {1, 10, 100, 1000}


def post_worker_init(worker):
    gc.freeze()


def post_request(worker, req, environ, resp):
    if worker.nr in FREEZE_AFTER_REQUESTS:
        gc.collect()
        gc.freeze()
