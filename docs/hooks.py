"""MkDocs hooks: pages whose content comes from the code or from files that already say it, so the site cannot
drift from what voxage does. A marker line `<!-- voxage:NAME -->` is replaced by NAME's text."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli_reference() -> str:
    """Every subcommand's `--help`, from the argparse parser itself."""
    from voxage.cli import build_parser

    parser = build_parser()
    out = ["```text", parser.format_help().rstrip(), "```"]
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    for name, sub in commands.items():
        out += [f"## voxage {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def rest_reference() -> str:
    """Endpoints, parameters, answers and body models, from the app's OpenAPI schema (with an API key set, so
    the 401 answers show)."""
    from voxage.serving.app import ServerConfig, create_app

    schema = create_app(ServerConfig(api_key="KEY", rate_limit=120)).openapi()
    out = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            out += [f"## `{method.upper()} {path}`", "", op.get("summary", ""), ""]
            for p in op.get("parameters", []):
                kind = p["schema"].get("$ref", "").rsplit("/", 1)[-1] or p["schema"].get("type", "")
                bounds = ", ".join(f"{k} {p['schema'][k]}" for k in ("minimum", "maximum") if k in p["schema"])
                out.append(f"- query `{p['name']}` ({kind}{', ' + bounds if bounds else ''})"
                           f"{' required' if p.get('required') else ''}: {p.get('description', '')}")
            if "requestBody" in op:
                out.append("- body: multipart form, field `audio` (the recording)")
            out += ["", "| status | meaning | body |", "|---|---|---|"]
            for code, r in op["responses"].items():
                ref = json.dumps(r.get("content", {}).get("application/json", {}).get("schema", {}))
                model = re.search(r'schemas/(\w+)', ref)
                out.append(f"| {code} | {r['description']} | {model.group(1) if model else ''} |")
            out.append("")
    out.append("## Body models\n")
    for name, body in schema["components"]["schemas"].items():
        out += [f"### {name}", "", "```json", json.dumps(body, indent=2), "```", ""]
    return "\n".join(out)


def stream_reference() -> str:
    """The stream messages' JSON schemas and close codes, from the pydantic models the server sends."""
    from voxage.serving import schemas

    out = ["| reason | close code |", "|---|---|"]
    out += [f"| `{reason}` | {code} |" for reason, code in schemas.STREAM_CLOSE_CODES.items()]
    for model in (schemas.StreamEstimate, schemas.StreamError, schemas.StreamEnd):
        out += ["", f"### {model.__name__}", "", (model.__doc__ or "").strip(), "", "```json",
                json.dumps(model.model_json_schema(), indent=2), "```"]
    return "\n".join(out)


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end > 0 else None].split("\n", 1)[1]
    return section.replace("](docs/", "](")  # README links are relative to the repository root


SOURCES = {
    "cli": cli_reference,
    "rest": rest_reference,
    "stream": stream_reference,
    "route-call": lambda: (ROOT / "examples" / "route_call.py").read_text().rstrip(),
    "model-card": lambda: (ROOT / "src" / "voxage" / "assets" / "MODEL_CARD.md").read_text().split("\n", 1)[1],
    "install": lambda: readme_section("Install"),
    "two-commands": lambda: readme_section("Two commands"),
}


def on_page_markdown(markdown: str, **_) -> str:
    return re.sub(r"<!-- voxage:([\w-]+) -->", lambda m: SOURCES[m.group(1)](), markdown)
