"""Where Seatline's packages meet: gunicorn serves ``wsgi:app``, and ``FLASK_APP=wsgi`` gives the ``flask``
command the app's own commands plus those of the packages built on it (``flask worker``, ``flask scheduler``,
``flask gate-keys``). ``app`` never imports ``workers`` or ``queue_gate`` (.importlinter)."""

from app import create_app
from queue_gate.cli import gate_keys_command
from workers.cli import scheduler_command, worker_command

app = create_app()
for command in (worker_command, scheduler_command, gate_keys_command):
    app.cli.add_command(command)
