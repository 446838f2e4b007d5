"""The report page: one self-contained HTML file (inline CSS, data: URI images, no script, no network)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape
from typing import Any, Sequence

from kaggle_kit.report.gallery import Gallery, Tile

SECTION_IDS = ("summary", "config", "learning-curves", "roc", "confusion", "calibration", "mistakes", "uncertain")

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #1d2329; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.2rem; }
.subtitle { color: #57606a; margin-top: 0; }
table.metrics { border-collapse: collapse; } table.metrics td, table.metrics th { padding: 0.2rem 0.8rem;
       border-bottom: 1px solid #eaeef2; text-align: left; } table.metrics td.value { font-variant-numeric: tabular-nums; }
pre.config { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
.plots { display: flex; flex-wrap: wrap; gap: 1.5rem; } .plots section { flex: 0 1 auto; }
img { max-width: 100%; height: auto; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 1rem; }
.gallery figure { margin: 0; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.5rem; }
.gallery figcaption { font-size: 0.85rem; margin-top: 0.3rem; } .wrong { color: #cf222e; font-weight: 600; }
.note { color: #57606a; font-style: italic; }
"""


@dataclass(frozen=True)
class Plot:
    """One figure of the page, in its own section."""

    section_id: str
    heading: str
    png: bytes
    alt: str


@dataclass(frozen=True)
class Page:
    """Everything the page shows, already computed.

    ``plots``: a binary run's ROC curve, confusion matrix and reliability diagram;
    per-class ROC curves and confusion matrices, residual plots for other tasks.
    ``gallery``: the reviewed images (binary tasks), or ``None`` with ``gallery_note``
    saying why there is none.
    """

    title: str
    subtitle: str
    metrics: dict[str, Any]
    config_yaml: str
    learning_curves: bytes | None
    plots: Sequence[Plot]
    gallery: Gallery | None
    class_names: Sequence[str]
    footer: str
    gallery_note: str = ""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def image(png: bytes, alt: str) -> str:
    return f'<img src="{data_uri(png)}" alt="{escape(alt)}">'


def render(page: Page) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(page.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(page.title)}</h1><p class=\"subtitle\">{escape(page.subtitle)}</p>",
        _section("summary", "Validation metrics", _metrics_table(page.metrics)),
        _section("config", "Configuration (config.yaml)", f'<pre class="config">{escape(page.config_yaml)}</pre>'),
        _section("learning-curves", "Learning curves", _learning_curves(page.learning_curves)),
        '<div class="plots">',
        *(_section(plot.section_id, plot.heading, image(plot.png, plot.alt)) for plot in page.plots),
        "</div>",
        *(_galleries(page) if page.gallery is not None else [_notes([page.gallery_note])]),
        f'<footer class="note">{escape(page.footer)}</footer>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _galleries(page: Page) -> list[str]:
    return [
        _notes(page.gallery.notes),
        _section(
            "mistakes", "Most confident mistakes",
            _gallery(page.gallery.mistakes, page.class_names, "No validation image is misclassified at this threshold."),
        ),
        _section(
            "uncertain", "Most uncertain images",
            _gallery(page.gallery.uncertain, page.class_names, "No validation predictions."),
        ),
    ]


def _section(section_id: str, heading: str, body: str) -> str:
    return f'<section id="{section_id}"><h2>{escape(heading)}</h2>\n{body}\n</section>'


def _metrics_table(metrics: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr><th>{escape(str(key))}</th><td class="value">{escape(_format(value))}</td></tr>'
        for key, value in metrics.items()
    )
    return f'<table class="metrics">{rows}</table>'


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"
    return str(value)


def _learning_curves(png: bytes | None) -> str:
    if png is None:
        return '<p class="note">This run folder has no history.csv.</p>'
    return image(png, "learning curves")


def _notes(notes: Sequence[str]) -> str:
    return "".join(f'<p class="note">{escape(note)}</p>' for note in notes)


def _gallery(tiles: Sequence[Tile], class_names: Sequence[str], empty: str) -> str:
    if not tiles:
        return f'<p class="note">{escape(empty)}</p>'
    figures = "".join(_figure(tile, class_names) for tile in tiles)
    return f'<div class="gallery">{figures}</div>'


def _figure(tile: Tile, class_names: Sequence[str]) -> str:
    true_name, predicted_name = class_names[tile.label], class_names[tile.predicted]
    verdict = "wrong" if tile.label != tile.predicted else "right"
    picture = image(tile.png, f"validation image {tile.id}") if tile.png else ""
    caption = (
        f"<b>{escape(tile.id)}</b><br>p({escape(class_names[1])}) = {tile.prob:.4f} · true: {escape(true_name)} · "
        f'<span class="{verdict}">predicted: {escape(predicted_name)}</span>'
    )
    if tile.remark:
        caption += f'<br><span class="note">{escape(tile.remark)}</span>'
    return f"<figure>{picture}<figcaption>{caption}</figcaption></figure>"
