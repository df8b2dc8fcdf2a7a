"""gunicorn settings for the web process; every value can be overridden from the environment."""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", 4))
timeout = 30
graceful_timeout = 10
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
errorlog = "-"
# Several gunicorns run side by side (web, the gateway simulator, test servers): a shared
# control socket path would make them step on each other.
control_socket_disable = True
