"""Chart.js configurations, rendered with ``json_script`` and drawn by ``static/js/charts.js``."""
from __future__ import annotations

PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777",
           "#65a30d", "#ea580c", "#475569"]


def chart(kind: str, labels, datasets: list[dict], **options) -> dict:
    """A Chart.js configuration; datasets without colours take the palette's in turn."""
    for i, dataset in enumerate(datasets):
        dataset["label"] = str(dataset.get("label", ""))
        dataset.setdefault("backgroundColor", PALETTE[i % len(PALETTE)])
        dataset.setdefault("borderColor", dataset["backgroundColor"])
    return {"type": kind, "data": {"labels": [str(label) for label in labels], "datasets": datasets},
            "options": options}


def choice_labels(choices, keys) -> list[str]:
    """The display labels of ``keys`` in a Django ``choices`` list (unknown keys as they are)."""
    names = dict(choices)
    return [str(names.get(k, k)) for k in keys]
