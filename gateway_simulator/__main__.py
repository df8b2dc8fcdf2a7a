"""``python -m gateway_simulator [--host 127.0.0.1] [--port 12111]``: run the simulator on
Werkzeug's threaded development server (gunicorn is the way for tests and ``make run``)."""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from gateway_simulator import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Stripe-compatible payment gateway simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    args = parser.parse_args()
    run_simple(args.host, args.port, create_app(), threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
