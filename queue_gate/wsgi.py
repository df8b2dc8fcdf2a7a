from queue_gate import create_gate_app

app = create_gate_app()
