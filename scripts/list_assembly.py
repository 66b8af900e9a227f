"""Print the stacks and assets of a synthesized cloud assembly (``cdk.out``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def describe(assembly: Path) -> list[str]:
    manifest = json.loads((assembly / "manifest.json").read_text())
    lines = []
    for name, artifact in sorted(manifest.get("artifacts", {}).items()):
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties", {})
        template = json.loads((assembly / props["templateFile"]).read_text())
        resources = template.get("Resources", {})
        lines.append(
            f"stack {artifact.get('displayName', name)}: {len(resources)} resources, "
            f"environment {artifact.get('environment')}, template {props['templateFile']}"
        )
    for assets_file in sorted(assembly.glob("*.assets.json")):
        for asset_hash, asset in json.loads(assets_file.read_text()).get("files", {}).items():
            source = asset["source"]
            path = assembly / source["path"]
            files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            size = sum(p.stat().st_size for p in files)
            lines.append(
                f"asset {source['path']} ({source.get('packaging', 'file')}, {size} bytes) "
                f"for {assets_file.name.removesuffix('.assets.json')}, hash {asset_hash[:12]}"
            )
    return lines


if __name__ == "__main__":
    print("\n".join(describe(Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out"))))
