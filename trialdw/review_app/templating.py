"""One Jinja2 environment for every page data managers read: the static review page,
the served app, its login form and the readiness results.

Autoescape is on for every template (and for templates made from strings), so a
site value, a comment or a user name reaches a page only as text. The only
values marked safe are the project's own CSS and JavaScript files, inlined into
the self-contained pages (a page that opens from a file share cannot fetch them).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from trialdw.review_app.states import LABELS

STATIC_DIR = Path(__file__).with_name("static")


@functools.cache
def static_text(name: str) -> str:
    """A file of the package's static folder (CSS/JS), as served and as inlined."""
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    """The CSP source that allows exactly this inline script or style."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def inline(name: str) -> Markup:
    """Our own asset, inlined verbatim (escaping would break CSS selectors like ``a > b``)."""
    return Markup(static_text(name))  # a file of this package, never data


def _text(value) -> str:
    """A cell: nothing for NULL (not "None"), timestamps to the second."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def _label(value) -> str:
    return LABELS.get(value, "" if value is None else str(value))


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("trialdw.review_app", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True, default=True),
        undefined=StrictUndefined,  # a misspelt variable is an error, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["text"] = _text
    env.filters["label"] = _label
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
