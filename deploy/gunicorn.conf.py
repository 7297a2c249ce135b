"""gunicorn settings shared by the image, the systemd unit and deploy/smoke, so the three
start the web server the same way:

    gunicorn --config deploy/gunicorn.conf.py revcycle.wsgi

Threads, not processes, carry the load: a page waits on the database, rarely on the CPU,
and htmx polls every 2 s are cheap. Two processes per core is plenty (docs/upgrading.md)."""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A CSV upload of 100,000 rows is parsed in the request; give it time.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
# Recycle processes now and then, so a slow leak never reaches the machine's limit.
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
# No query strings in the access log: search boxes and filters may carry patient names.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
