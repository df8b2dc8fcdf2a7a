"""WSGI entry point: ``gunicorn -w 1 --threads 8 -b 127.0.0.1:12111 gateway_simulator.wsgi:app``.

Use exactly one worker: all gateway state lives in memory in that process.
"""

from gateway_simulator import create_app

app = create_app()
