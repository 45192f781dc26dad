"""``/docs``: the app's OpenAPI document as one HTML page rendered on the server, so it works on machines that
cannot reach a CDN (FastAPI's Swagger UI loads its JavaScript and CSS from one)."""

from __future__ import annotations

from html import escape
from typing import Any


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items', {}))}"
    if "anyOf" in schema:
        return " or ".join(_schema_name(s) for s in schema["anyOf"])
    return str(schema.get("type", "object"))


def render(openapi: dict[str, Any]) -> str:
    info = openapi.get("info", {})
    parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(info.get("title", ""))} '
             "API</title><style>body{font-family:system-ui,sans-serif;margin:16px;max-width:1000px}"
             "code{background:#f3f3f3;padding:1px 3px}table{border-collapse:collapse;font-size:13px}"
             "td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}"
             "h2{font-size:15px;margin-top:24px}</style></head><body>",
             f"<h1>{escape(info.get('title', ''))} {escape(str(info.get('version', '')))}</h1>"
             f"<p>{escape(info.get('description', ''))}</p>"
             '<p>The machine-readable document: <a href="openapi.json">openapi.json</a>.</p>']
    for path, methods in openapi.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(f'<h2 id="{escape(op.get("operationId", ""))}"><code>{method.upper()} {escape(path)}</code> '
                         f"{escape(op.get('summary', ''))}</h2>")
            params = op.get("parameters", [])
            if params:
                parts.append("<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th>"
                             "<th>description</th></tr>")
                for p in params:
                    parts.append(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                                 f"<td>{'yes' if p.get('required') else 'no'}</td>"
                                 f"<td>{escape(_schema_name(p.get('schema', {})))}</td>"
                                 f"<td>{escape(p.get('description', ''))}</td></tr>")
                parts.append("</table>")
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                parts.append(f"<p>Body (JSON): {escape(_schema_name(body))}</p>")
            parts.append("<table><tr><th>answer</th><th>meaning</th></tr>")
            for code, answer in op.get("responses", {}).items():
                parts.append(f"<tr><td>{escape(code)}</td><td>{escape(answer.get('description', ''))}</td></tr>")
            parts.append("</table>")
    schemas = openapi.get("components", {}).get("schemas", {})
    if schemas:
        parts.append("<h2>Schemas</h2><table><tr><th>name</th><th>fields</th></tr>")
        for name, schema in schemas.items():
            fields = ", ".join(f"{escape(k)}: {escape(_schema_name(v))}" for k, v in schema.get("properties", {}).items())
            parts.append(f"<tr><td>{escape(name)}</td><td>{fields}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)
