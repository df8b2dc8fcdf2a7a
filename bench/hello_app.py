"""The baseline: a bare Flask endpoint, served with the same gunicorn settings as Seatline."""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello():
    return {"hello": "world"}
