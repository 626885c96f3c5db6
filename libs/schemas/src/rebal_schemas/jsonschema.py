"""JSON Schema of every event, for clients in any language (`python -m rebal_schemas.jsonschema DIR`)."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from rebal_schemas.topics import ALL_TOPICS


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for topic in ALL_TOPICS:
        schema = topic.adapter.json_schema(mode="validation")
        schema["title"] = topic.name
        schema["description"] = f"{topic.description} Key: `{topic.key_field}`."
        path = directory / f"{topic.name}.schema.json"
        path.write_bytes(
            orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
        written.append(path)
    return written


if __name__ == "__main__":
    for path in export(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(path)
