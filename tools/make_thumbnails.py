"""Write workflows/<name>.jpg beside every UI workflow: the picture the template browser shows on its card.

    python tools/make_thumbnails.py

Each picture is made from the workflow itself: the example portrait it animates (a frame of the driving
clip, too, where motion comes from a video), the title and first sentence of its Note, and a small
drawing of its graph (boxes in their saved places, coloured by group, wires between them). OpenCV only
(a pack dependency), so it runs wherever the pack runs. Pictures are 480x270 JPEGs, well under 100 KB.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS, ASSETS = ROOT / "workflows", ROOT / "assets"
W, H = 480, 270
BACKGROUND, TEXT, WIRE = (37, 34, 32), (240, 240, 240), (74, 176, 232)  # BGR
FONT = cv2.FONT_HERSHEY_SIMPLEX


def ui_workflows() -> list[Path]:
    return sorted(p for p in WORKFLOWS.glob("*.json") if "nodes" in json.loads(p.read_text()))


def _bgr(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    r, g, b = (int(colour[i:i + 2], 16) for i in (0, 2, 4))
    return b, g, r


def _portrait(video: bool, picture: str = "portrait.png") -> np.ndarray:
    image = cv2.imread(str(ASSETS / picture))
    if video and (ASSETS / "driving.mp4").exists():
        capture = cv2.VideoCapture(str(ASSETS / "driving.mp4"))
        capture.set(cv2.CAP_PROP_POS_FRAMES, 30)
        ok, frame = capture.read()
        capture.release()
        if ok:
            image = np.concatenate([image[:, 128:384], frame[:, 128:384]], axis=1)  # the portrait | the driver
    return image


def _wrap(text: str, width: int, scale: float) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if cv2.getTextSize(trial, FONT, scale, 1)[0][0] > width and line:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + [line] if line else lines


def _graph(canvas: np.ndarray, graph: dict, area: tuple[int, int, int, int]) -> None:
    """The graph's boxes and wires, scaled into area (x0, y0, x1, y1)."""
    nodes = {n["id"]: n for n in graph["nodes"] if n["type"] != "Note"}
    left = min(n["pos"][0] for n in nodes.values())
    top = min(n["pos"][1] - 30 for n in nodes.values())
    right = max(n["pos"][0] + n["size"][0] for n in nodes.values())
    bottom = max(n["pos"][1] + n["size"][1] for n in nodes.values())
    scale = min((area[2] - area[0]) / (right - left), (area[3] - area[1]) / (bottom - top))

    def at(x: float, y: float) -> tuple[int, int]:
        return int(area[0] + (x - left) * scale), int(area[1] + (y - top) * scale)

    colour_of = {}
    for group in graph.get("groups", []):
        gx, gy, gw, gh = group["bounding"]
        for n in nodes.values():
            if gx <= n["pos"][0] <= gx + gw and gy <= n["pos"][1] <= gy + gh:
                colour_of[n["id"]] = _bgr(group["color"])
    for _, src, slot, dst, dslot, _ in graph["links"]:
        a, b = nodes.get(src), nodes.get(dst)
        if a and b:
            start = at(a["pos"][0] + a["size"][0], a["pos"][1] + 10 + 20 * slot)
            end = at(b["pos"][0], b["pos"][1] + 10 + 20 * dslot)
            cv2.line(canvas, start, end, WIRE, 1, cv2.LINE_AA)
    for n in nodes.values():
        x0, y0 = at(n["pos"][0], n["pos"][1] - 30)
        x1, y1 = at(n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
        fill = colour_of.get(n["id"], (80, 74, 70))
        muted = n.get("mode", 0) in (2, 4)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), tuple(c // 2 for c in fill) if muted else fill, -1)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (200, 200, 200), 1)


def thumbnail(path: Path) -> np.ndarray:
    graph = json.loads(path.read_text())
    note = next(n["widgets_values"][0] for n in graph["nodes"] if n["type"] == "Note")
    title, _, rest = note.split("\n")[0].partition(":")
    canvas = np.full((H, W, 3), BACKGROUND, np.uint8)
    video = any(n["type"] == "LoadVideo" for n in graph["nodes"])
    pictures = [n["widgets_values"][0] for n in graph["nodes"] if n["type"] == "LoadImage"]
    shown = pictures[0] if pictures and (ASSETS / pictures[0]).is_file() else "portrait.png"
    portrait = _portrait(video, shown)  # the workflow's own example photo (two_faces.png is wider)
    side = 150
    portrait = cv2.resize(portrait, (side * portrait.shape[1] // portrait.shape[0], side), interpolation=cv2.INTER_AREA)
    canvas[12:12 + side, 12:12 + portrait.shape[1]] = portrait
    text_x = 24 + portrait.shape[1]
    y = 36
    for line in _wrap(title.replace("FloatKit ", "").capitalize(), W - text_x - 10, 0.8):
        cv2.putText(canvas, line, (text_x, y), FONT, 0.8, TEXT, 2, cv2.LINE_AA)
        y += 30
    for line in _wrap(rest.split(". ")[0].strip(), W - text_x - 10, 0.45)[:5]:
        cv2.putText(canvas, line, (text_x, y), FONT, 0.45, (200, 200, 200), 1, cv2.LINE_AA)
        y += 18
    _graph(canvas, graph, (12, 12 + side + 12, W - 12, H - 12))
    cv2.putText(canvas, "FloatKit", (W - 80, H - 4), FONT, 0.4, (150, 150, 150), 1, cv2.LINE_AA)
    return canvas


def write(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RuntimeError(f"could not encode {path.name}")
    tmp = path.with_suffix(".jpg.tmp")
    tmp.write_bytes(data.tobytes())
    os.replace(tmp, path)  # whole or not at all


def main() -> None:
    for path in ui_workflows():
        target = path.with_suffix(".jpg")
        write(target, thumbnail(path))
        print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KB", file=sys.stderr)


if __name__ == "__main__":
    main()
