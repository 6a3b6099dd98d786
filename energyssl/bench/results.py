"""The result schema every section shares, and what is done with results: tables, JSON, compare.

One figure is one row, a plain dict (JSON as it is)::

    {"section": "quality", "table": "NLL gap", "name": "nce", "metric": "8gaussians",
     "value": 0.021, "spread": 0.002, "unit": "nats", "better": "lower",
     "config": {...}, "seed": 0, "wall_s": 11.4}

* ``section`` — quality, speed, ssl or claims; ``table`` — the table the row sits in;
  ``name`` — the row label; ``metric`` — the column; ``value`` — a finite float.
* ``spread`` — the figure's noise (a standard deviation over seeds, or the standard error of
  the estimate), or None; ``unit`` — "nats", "s", "%", "x" or "".
* ``better`` — "lower", "higher" or None (no direction: compare reports, never flags).
* ``config`` — everything needed to rerun the figure; ``seed`` and ``wall_s`` of its run.

``compare(old, new)`` pairs rows by (section, table, name, metric) and flags a change as worse
when it goes the wrong way by more than its tolerance::

    tolerance = max(2 sqrt(spread_old^2 + spread_new^2), rel_tol |old|, abs_tol)

with rel_tol = 0.05 (0.25 for wall times, unit "s", which vary with the machine's load) and
abs_tol = 1e-3 (for figures near zero, such as a gap that is already small). A missing spread
counts as 0, so the relative tolerance is the default.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple, TypedDict

KEYS = ("section", "table", "name", "metric", "value", "spread", "unit", "config", "seed",
        "wall_s")
DIRECTIONS = ("lower", "higher", None)
REL_TOL = 0.05
REL_TOL_TIME = 0.25
ABS_TOL = 1e-3


class Row(TypedDict):
    section: str
    table: str
    name: str
    metric: str
    value: float
    spread: float | None
    unit: str
    better: str | None
    config: dict
    seed: int
    wall_s: float


def row(section: str, table: str, name: str, metric: str, value, *, spread=None,
        unit: str = "", better: str | None = None, config: Mapping | None = None,
        seed: int = 0, wall_s: float = 0.0) -> Row:
    """A checked row; ``value`` and ``spread`` are converted to float (tensors included)."""
    return check_row({"section": section, "table": table, "name": name, "metric": metric,
                      "value": value, "spread": spread, "unit": unit, "better": better,
                      "config": dict(config or {}), "seed": seed, "wall_s": wall_s})


def check_row(r: Mapping) -> Row:
    """Validate one row (raises ValueError naming the key); returns a normalised copy."""
    if not isinstance(r, Mapping):
        raise TypeError(f"a result row must be a dict, got {type(r).__name__}")
    missing = [k for k in KEYS if k not in r]
    if missing:
        raise ValueError(f"result row {r.get('name', '?')!r} misses {', '.join(missing)}")
    out = dict(r)
    for key in ("section", "table", "name", "metric", "unit"):
        if not isinstance(out[key], str):
            raise ValueError(f"result row key {key!r} must be a str, got {out[key]!r}")
    label = f"{out['section']}/{out['table']}/{out['name']}/{out['metric']}"
    try:
        out["value"] = float(out["value"])
        out["spread"] = None if out["spread"] is None else float(out["spread"])
        out["wall_s"] = float(out["wall_s"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{label}: value, spread and wall_s must be numbers ({err})") from None
    out.setdefault("better", None)
    if out["better"] not in DIRECTIONS:
        raise ValueError(f"{label}: better must be 'lower', 'higher' or None, "
                         f"got {out['better']!r}")
    if not isinstance(out["config"], Mapping):
        raise ValueError(f"{label}: config must be a dict")
    out["config"] = dict(out["config"])
    return out  # type: ignore[return-value]


def finite(r: Mapping) -> bool:
    """True when the row's value (and spread, if any) is a finite number."""
    return math.isfinite(r["value"]) and (r["spread"] is None or math.isfinite(r["spread"]))


def save_json(path, rows: Iterable[Mapping], meta: Mapping) -> Path:
    """Write ``{"meta": meta, "rows": rows}`` (rows checked) to ``path``; NaN becomes null."""
    rows = [check_row(r) for r in rows]
    path = Path(path)
    text = json.dumps({"meta": dict(meta), "rows": [_nan_to_none(r) for r in rows]}, indent=1,
                      default=str)
    path.write_text(text + "\n")
    return path


def _nan_to_none(r: Mapping) -> dict:
    out = dict(r)
    for key in ("value", "spread"):
        if out[key] is not None and not math.isfinite(out[key]):
            out[key] = None
    return out


def load_json(path) -> tuple[list[Row], dict]:
    """Read a results.json: ``(rows, meta)``; a null value reads back as NaN."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"no results file at {path}") from None
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a results.json ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise ValueError(f"{path} is not a results.json: no 'rows' list")
    rows = []
    for r in data["rows"]:
        r = dict(r)
        if r.get("value") is None:
            r["value"] = math.nan
        rows.append(check_row(r))
    return rows, dict(data.get("meta", {}))


def _format(value: float, spread: float | None, unit: str) -> str:
    if not math.isfinite(value):
        return "—"
    digits = 3 if unit != "%" else 1
    if value.is_integer() and spread is None and not unit:
        text = f"{value:.0f}"
    elif abs(value) >= 1000:
        text = f"{value:.0f}"
    elif abs(value) >= 100:
        text = f"{value:.1f}"
    else:
        text = f"{value:.{digits}f}"
    if spread is not None and math.isfinite(spread) and spread > 0:
        text += f" ± {spread:.{digits}f}"
    return text


def tables(rows: Iterable[Mapping]) -> dict[tuple[str, str], list[Mapping]]:
    """Rows grouped by (section, table), in first-seen order."""
    out: dict[tuple[str, str], list[Mapping]] = {}
    for r in rows:
        out.setdefault((r["section"], r["table"]), []).append(r)
    return out


def to_markdown(rows: Iterable[Mapping], meta: Mapping | None = None) -> str:
    """One markdown table per (section, table): row labels down, metrics across."""
    lines = []
    if meta:
        lines += ["# energyssl benchmark results", ""]
        lines += [f"- {key}: {value}" for key, value in meta.items()
                  if not isinstance(value, (dict, list))]
        lines.append("")
    section = None
    for (sec, table), group in tables(rows).items():
        if sec != section:
            lines += [f"## {sec}", ""]
            section = sec
        metrics = list(dict.fromkeys(r["metric"] for r in group))
        units = {r["metric"]: r["unit"] for r in group}
        names = list(dict.fromkeys(r["name"] for r in group))
        cells = {(r["name"], r["metric"]): _format(r["value"], r["spread"], r["unit"])
                 for r in group}
        head = [f"{m} ({units[m]})" if units[m] else m for m in metrics]
        lines += [f"### {table}", "", "| | " + " | ".join(head) + " |",
                  "|---" * (len(metrics) + 1) + "|"]
        for name in names:
            lines.append(f"| {name} | " + " | ".join(cells.get((name, m), "")
                                                      for m in metrics) + " |")
        lines.append("")
    return "\n".join(lines)


class Change(NamedTuple):
    """One figure in both files: its key, both values, the tolerance and whether it is worse."""

    key: tuple[str, str, str, str]
    old: float
    new: float
    tolerance: float
    better: str | None
    worse: bool


def _tolerance(old: Mapping, new: Mapping, rel_tol: float, abs_tol: float) -> float:
    spread = math.hypot(old["spread"] or 0.0, new["spread"] or 0.0)
    rel = REL_TOL_TIME if old["unit"] == "s" and rel_tol == REL_TOL else rel_tol
    return max(2 * spread, rel * abs(old["value"]), abs_tol)


def compare(old: Iterable[Mapping], new: Iterable[Mapping], *, rel_tol: float = REL_TOL,
            abs_tol: float = ABS_TOL) -> tuple[list[Change], list[tuple], list[tuple]]:
    """Pair the rows of two runs by key: ``(changes, only_old_keys, only_new_keys)``.

    A change is ``worse`` when the figure moved in its bad direction by more than the
    tolerance of the module docstring, or became non-finite.
    """
    def key(r):
        return (r["section"], r["table"], r["name"], r["metric"])

    before = {key(r): r for r in old}
    after = {key(r): r for r in new}
    changes = []
    for k, r_new in after.items():
        if k not in before:
            continue
        r_old = before[k]
        tol = _tolerance(r_old, r_new, rel_tol, abs_tol)
        better = r_new.get("better", r_old.get("better"))
        delta = r_new["value"] - r_old["value"]
        if not math.isfinite(r_new["value"]):
            worse = math.isfinite(r_old["value"])
        elif better == "lower":
            worse = delta > tol
        elif better == "higher":
            worse = -delta > tol
        else:
            worse = False
        changes.append(Change(k, r_old["value"], r_new["value"], tol, better, worse))
    return (changes, [k for k in before if k not in after], [k for k in after if k not in before])


def format_compare(changes: list[Change], only_old: list[tuple], only_new: list[tuple]) -> str:
    """The report ``energyssl bench --compare`` prints: every figure, worse ones flagged."""
    lines = []
    for c in changes:
        delta = c.new - c.old
        rel = f" ({100 * delta / abs(c.old):+.1f}%)" if c.old and math.isfinite(delta) else ""
        flag = "  WORSE" if c.worse else ""
        lines.append(f"{'/'.join(c.key)}: {c.old:.4g} -> {c.new:.4g}  change {delta:+.3g}{rel}"
                     f"  tolerance {c.tolerance:.3g}{flag}")
    lines += [f"{'/'.join(k)}: only in the old file" for k in only_old]
    lines += [f"{'/'.join(k)}: only in the new file" for k in only_new]
    worse = sum(c.worse for c in changes)
    lines.append(f"{len(changes)} figures compared, {worse} worse beyond their tolerance, "
                 f"{len(only_old)} gone, {len(only_new)} new")
    return "\n".join(lines)
