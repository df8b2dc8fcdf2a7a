"""Compares the served OpenAPI document with the hand-written one it replaced, kept in git history.

    python scripts/compare_openapi.py [REVISION]    # default: the last commit that has app/api/openapi.yaml

Prints every difference in paths, methods, statuses, error codes per status, parameters, media
types, headers, prose (summaries and descriptions) and the request and response bodies' shapes
(property names, required members, types, formats, constraints), and exits 1 if there is any.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.api.openapi import build_document  # noqa: E402
from app.config import Settings  # noqa: E402

OLD_PATH = "app/api/openapi.yaml"
# Differences that are corrections: the request models accept null for these optional members (the
# hand-written document said they did not), and two descriptions the YAML cut short at a comma.
ACCEPTED = {
    "POST /holds/{holdId}/confirm request application/json.paymentIntentId: type ['string'] -> ['null', 'string']",
    "PATCH /manage/events/{eventId} request application/json.title: type ['string'] -> ['null', 'string']",
    "PATCH /manage/events/{eventId} request application/json.description: type ['string'] -> ['null', 'string']",
    "PATCH /manage/events/{eventId} request application/json.category: type [] -> ['null']",
    "PATCH /manage/events/{eventId} request application/json.durationMinutes: type ['integer'] -> ['integer', 'null']",
    "PUT /manage/venues/{venueId}/layout request application/json.seats[].companion: description differs",
    "PUT /manage/venues/{venueId}/layout request application/json.seats[].sellable: description differs",
    # `{type: object}` and `{type: object, additionalProperties: true}` accept the same.
    "POST /payments/webhook request application/json.data.object: additionalProperties None -> True",
}
CONSTRAINTS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "format",
    "minProperties",
    "maxProperties",
)


def old_document(revision: str | None) -> dict[str, Any]:
    if revision is None:
        revision = subprocess.run(
            ["git", "log", "-1", "--format=%H", "--", OLD_PATH], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
        exists = (
            subprocess.run(
                ["git", "cat-file", "-e", f"{revision}:{OLD_PATH}"], cwd=ROOT, stderr=subprocess.DEVNULL
            ).returncode
            == 0
        )
        if not exists:
            revision += "^"
    text = subprocess.run(
        ["git", "show", f"{revision}:{OLD_PATH}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return yaml.safe_load(text)


class Doc:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            extra = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **extra}
        return node

    def codes(self, response: dict[str, Any]) -> set[str]:
        response = self.resolve(response)
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        found: set[str] = set()

        def walk(node: Any) -> None:
            node = self.resolve(node)
            for key in ("oneOf", "anyOf", "allOf"):
                for branch in node.get(key, []):
                    walk(branch)
            code = node.get("properties", {}).get("error", {}).get("properties", {}).get("code", {})
            if "const" in code:
                found.add(code["const"])
            found.update(code.get("enum", []))

        walk(schema)
        return found

    def shape(self, node: Any, depth: int = 0) -> dict[str, Any]:
        """A canonical form of a schema: branches merged, refs followed, nulls as a type."""
        node = self.resolve(node)
        if depth > 12:
            return {}
        out: dict[str, Any] = {"types": set(), "props": {}, "required": set(), "enum": set()}
        branches = [self.resolve(b) for b in node.get("oneOf", []) + node.get("anyOf", [])]
        for part in [node, *[self.resolve(b) for b in node.get("allOf", [])], *branches]:
            kinds = part.get("type", [])
            out["types"] |= set(kinds if isinstance(kinds, list) else [kinds])
            if "const" in part:
                out["enum"].add(repr(part["const"]))
            out["enum"] |= {repr(v) for v in part.get("enum", [])}
            for name, prop in part.get("properties", {}).items():
                sub = self.shape(prop, depth + 1)
                if name in out["props"]:
                    merged = out["props"][name]
                    merged["types"] |= sub["types"]
                    merged["enum"] |= sub["enum"]
                    merged["props"].update(sub["props"])
                    merged["required"] |= sub["required"]
                    for key in CONSTRAINTS:
                        if key in sub:
                            merged[key] = sub[key]
                else:
                    out["props"][name] = sub
            if part is node or part not in branches:
                out["required"] |= set(part.get("required", []))
            if "items" in part:
                out["items"] = self.shape(part["items"], depth + 1)
            if isinstance(part.get("additionalProperties"), bool):
                out["additionalProperties"] = part["additionalProperties"]
            elif isinstance(part.get("additionalProperties"), dict):
                out["additionalProperties"] = "schema"
            for key in CONSTRAINTS:
                if key in part:
                    out[key] = part[key]
            if part.get("description") and part is node:
                out["description"] = " ".join(part["description"].split())
        if None in {eval(v) for v in out["enum"]}:
            out["enum"].discard("None")
            out["types"].add("null")
        if "const" in node or node.get("enum"):
            out["types"].discard("string")
            out["types"].discard("boolean")
        out["types"].discard("number") if "integer" in out["types"] else None
        return out


def compare_shapes(where: str, old: dict[str, Any], new: dict[str, Any], problems: list[str]) -> None:
    old_types = old["types"] - ({"string", "boolean"} if old["enum"] else set())
    new_types = new["types"] - ({"string", "boolean"} if new["enum"] else set())
    if old_types != new_types:
        problems.append(f"{where}: type {sorted(old_types)} -> {sorted(new_types)}")
    if old["enum"] != new["enum"]:
        problems.append(f"{where}: enum {sorted(old['enum'])} -> {sorted(new['enum'])}")
    if old.get("description") and old.get("description") != new.get("description"):
        problems.append(f"{where}: description differs")
    for key in CONSTRAINTS + ("additionalProperties",):
        if old.get(key) != new.get(key):
            problems.append(f"{where}: {key} {old.get(key)!r} -> {new.get(key)!r}")
    if set(old["props"]) != set(new["props"]):
        problems.append(f"{where}: properties {sorted(set(old['props']) ^ set(new['props']))} differ")
    if old["required"] != new["required"]:
        problems.append(f"{where}: required {sorted(old['required'])} -> {sorted(new['required'])}")
    for name in set(old["props"]) & set(new["props"]):
        compare_shapes(f"{where}.{name}", old["props"][name], new["props"][name], problems)
    if "items" in old or "items" in new:
        compare_shapes(f"{where}[]", old.get("items", Doc({}).shape({})), new.get("items", Doc({}).shape({})), problems)


def differences(old_doc: dict[str, Any], new_doc: dict[str, Any]) -> list[str]:
    old, new = Doc(old_doc), Doc(new_doc)
    problems: list[str] = []
    for key in ("summary", "description"):
        if old_doc["info"].get(key, "").strip() != new_doc["info"].get(key, "").strip():
            problems.append(f"info.{key} differs")
    old_ops = {(p, m): op for p, ops in old_doc["paths"].items() for m, op in ops.items() if m != "parameters"}
    new_ops = {(p, m): op for p, ops in new_doc["paths"].items() for m, op in ops.items() if m != "parameters"}
    for key in sorted(set(old_ops) ^ set(new_ops)):
        problems.append(f"{key}: only in the {'old' if key in old_ops else 'new'} document")
    for key in sorted(set(old_ops) & set(new_ops)):
        o, n = old_ops[key], new_ops[key]
        label = f"{key[1].upper()} {key[0]}"
        for field in ("operationId", "tags", "security"):
            if (o.get(field) or []) != (n.get(field) or []):
                problems.append(f"{label}: {field} {o.get(field)} -> {n.get(field)}")
        for field in ("summary", "description"):
            if " ".join(str(o.get(field, "")).split()) != " ".join(str(n.get(field, "")).split()):
                problems.append(f"{label}: {field} differs")
        o_params = old_doc["paths"][key[0]].get("parameters", []) + o.get("parameters", [])
        o_params = {(p["name"], p["in"]): old.resolve(p) for p in map(old.resolve, o_params)}
        n_params = {(p["name"], p["in"]): new.resolve(p) for p in map(new.resolve, n.get("parameters", []))}
        if set(o_params) != set(n_params):
            problems.append(f"{label}: parameters {sorted(o_params)} -> {sorted(n_params)}")
        for name in set(o_params) & set(n_params):
            compare_shapes(
                f"{label} parameter {name[0]}",
                old.shape(o_params[name]["schema"]),
                new.shape(n_params[name]["schema"]),
                problems,
            )
        o_body, n_body = o.get("requestBody"), n.get("requestBody")
        if bool(o_body) != bool(n_body):
            problems.append(f"{label}: request body {bool(o_body)} -> {bool(n_body)}")
        elif o_body and n_body:
            if bool(o_body.get("required")) != bool(n_body.get("required")):
                problems.append(f"{label}: request body required {o_body.get('required')} -> {n_body.get('required')}")
            if set(o_body["content"]) != set(n_body["content"]):
                problems.append(
                    f"{label}: request media types {sorted(o_body['content'])} -> {sorted(n_body['content'])}"
                )
            for media in set(o_body["content"]) & set(n_body["content"]):
                compare_shapes(
                    f"{label} request {media}",
                    old.shape(o_body["content"][media].get("schema", {})),
                    new.shape(n_body["content"][media].get("schema", {})),
                    problems,
                )
        if set(o["responses"]) != set(n["responses"]):
            problems.append(f"{label}: statuses {sorted(o['responses'])} -> {sorted(n['responses'])}")
        for status in set(o["responses"]) & set(n["responses"]):
            o_resp, n_resp = old.resolve(o["responses"][status]), new.resolve(n["responses"][status])
            if old.codes(o_resp) != new.codes(n_resp):
                problems.append(f"{label} {status}: codes {sorted(old.codes(o_resp))} -> {sorted(new.codes(n_resp))}")
            if " ".join(o_resp.get("description", "").split()) != " ".join(n_resp.get("description", "").split()):
                problems.append(f"{label} {status}: description differs")
            if set(o_resp.get("headers", {})) != set(n_resp.get("headers", {})):
                problems.append(
                    f"{label} {status}: headers {sorted(o_resp.get('headers', {}))} -> "
                    f"{sorted(n_resp.get('headers', {}))}"
                )
            for header in set(o_resp.get("headers", {})) & set(n_resp.get("headers", {})):
                if old.resolve(o_resp["headers"][header]).get("schema") != new.resolve(n_resp["headers"][header]).get(
                    "schema"
                ):
                    problems.append(f"{label} {status}: header {header} schema differs")
            o_content, n_content = o_resp.get("content", {}), n_resp.get("content", {})
            if set(o_content) != set(n_content):
                problems.append(f"{label} {status}: media types {sorted(o_content)} -> {sorted(n_content)}")
            for media in set(o_content) & set(n_content):
                compare_shapes(
                    f"{label} {status} {media}",
                    old.shape(o_content[media].get("schema", {})),
                    new.shape(n_content[media].get("schema", {})),
                    problems,
                )
    return problems


def main() -> int:
    new_doc = build_document(create_app(Settings(env="test")))
    found = differences(old_document(sys.argv[1] if len(sys.argv) > 1 else None), new_doc)
    problems = [p for p in found if p not in ACCEPTED]
    print("\n".join(problems) or "the documents agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
