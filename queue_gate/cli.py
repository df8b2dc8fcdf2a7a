from __future__ import annotations

import json
from pathlib import Path

import click

from queue_gate.keys import jwks, load_keys, rotate_file


@click.command("gate-keys")
@click.argument("private_file", type=click.Path(path_type=Path))
@click.option("--public", "public_file", type=click.Path(path_type=Path), help="Also write the JWKS here.")
@click.option("--rotate", is_flag=True, help="Add a new signing key even if the file has keys already.")
def gate_keys_command(private_file: Path, public_file: Path | None, rotate: bool) -> None:
    """Create (or rotate) the gate's Ed25519 signing keys; old keys stay in the JWKS until dropped."""
    if rotate or not private_file.exists():
        document = rotate_file(private_file)
        click.echo(f"signing key {document['keys'][0]['kid']} is now first in {private_file}")
    else:
        document = jwks(load_keys(private_file.read_text()))
    if public_file:
        public_file.write_text(json.dumps(document, indent=2))
