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
# Request ids in the access log: the edge's, or the one the app made (app/ops/observe.py).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms id=%({x-request-id}o)s'
if os.environ.get("LOG_FORMAT") == "json":
    # The app's own records get their JSON handler from the app (app/ops/observe.py); these are gunicorn's.
    logconfig_dict = {
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
        },
    }


# Metrics (README "Watching a sale"): with PROMETHEUS_MULTIPROC_DIR every worker writes its figures
# there, and with METRICS_BIND this master serves them, added up, on that internal address.
def on_starting(server):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from app.ops import listener

        listener.prepare_directory()


def when_ready(server):
    if os.environ.get("METRICS_BIND"):
        from app.ops import listener

        listener.serve(os.environ["METRICS_BIND"])


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from app.ops import listener

        listener.process_gone(worker.pid)
