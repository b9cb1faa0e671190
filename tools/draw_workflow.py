"""Draw a workflow's graph (boxes = nodes, arrows = links, labelled by socket) as a PNG.

    python tools/draw_workflow.py workflows/floatkit_basic.json docs/basic_workflow.png

Needs Pillow (ComfyUI ships it); used only to make the README picture.
"""

from __future__ import annotations

import json
import os
import sys

from PIL import Image, ImageDraw

TITLES = {"FloatKitLoadModels": "Load FLOAT Models", "FloatKitAnimate": "FLOAT Animate Portrait",
          "LoadImage": "Load Image", "LoadAudio": "Load Audio", "CreateVideo": "Create Video",
          "SaveVideo": "Save Video"}
BOX_W, ROW_H = 180, 16


def layout(graph: dict) -> dict:
    nodes = {n["id"]: n for n in graph["nodes"] if n["type"] != "Note"}
    boxes = {}
    for node in nodes.values():
        x, y = node["pos"]
        rows = max(len(node.get("inputs", [])), len(node.get("outputs", [])), 1)
        boxes[node["id"]] = (x * 0.7 + 20, y * 0.5 + 40, x * 0.7 + 20 + BOX_W, y * 0.5 + 70 + rows * ROW_H)
    return nodes, boxes


def draw(graph: dict, path: str) -> None:
    nodes, boxes = layout(graph)
    width = int(max(b[2] for b in boxes.values()) + 30)
    height = int(max(b[3] for b in boxes.values()) + 30)
    img = Image.new("RGB", (width, height), "#202225")
    d = ImageDraw.Draw(img)
    for nid, (x0, y0, x1, y1) in boxes.items():
        node = nodes[nid]
        fill = "#2f4f6f" if node["type"].startswith("FloatKit") else "#3a3d42"
        d.rounded_rectangle((x0, y0, x1, y1), 6, fill=fill, outline="#9aa")
        d.text((x0 + 8, y0 + 6), TITLES.get(node["type"], node["type"]), fill="white")
        for i, inp in enumerate(node.get("inputs", [])):
            d.text((x0 + 8, y0 + 26 + i * ROW_H), "> " + inp["name"], fill="#cde")
        for i, out in enumerate(node.get("outputs", [])):
            label = out["name"] + " >"
            d.text((x1 - 8 - d.textlength(label), y0 + 26 + i * ROW_H), label, fill="#fdc")
    for _, src, slot, dst, dslot, _type in graph["links"]:
        sx, sy = boxes[src][2], boxes[src][1] + 32 + slot * ROW_H
        tx, ty = boxes[dst][0], boxes[dst][1] + 32 + dslot * ROW_H
        mid = (sx + tx) / 2 + (dslot - 1) * 14  # stagger the vertical runs so wires stay apart
        d.line((sx, sy, mid, sy, mid, ty, tx, ty), fill="#e8b04a", width=2)
        d.polygon(((tx, ty), (tx - 7, ty - 4), (tx - 7, ty + 4)), fill="#e8b04a")
    tmp = path + ".tmp.png"
    img.save(tmp)
    os.replace(tmp, path)


if __name__ == "__main__":
    draw(json.loads(open(sys.argv[1]).read()), sys.argv[2])
