"""The layers point one way: app → admin_views → services → models (ARCHITECTURE.md).

Read from the source with `ast`, so a lazy import inside a function counts as much as one
at the top: models.py imports nothing of ours above it, services/ holds no HTTP (no Flask
request, response, session, current_app or current_user, and nothing of the web layer),
and admin_views/ does not reach back into app.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB_LAYER = ("app", "auth", "admin_views")
#: What a service may not take from Flask: the request and everything bound to it.
HTTP_NAMES = {
    "request",
    "session",
    "g",
    "current_app",
    "Response",
    "make_response",
    "jsonify",
    "redirect",
    "url_for",
    "abort",
    "flash",
    "stream_with_context",
    "send_file",
    "has_request_context",
}
#: Edges the rule allows on purpose, and why.
ALLOWED = {
    # The task queue's runner opens each task's database session from the app the worker started.
    ("services/tasks.py", "extensions"),
    # The erasure ledger is the running app's (its config names the file): every erasure writes it, and no
    # caller can pass another or none (services.erasure_ledger.of_app).
    ("services/erasure_ledger.py", "flask"),
}


def imports(path: Path) -> list[tuple[str, set[str]]]:
    """(module, names taken from it) for every import statement in the file, nested ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, set()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, {alias.name for alias in node.names}))
    return found


def _is(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _violations(files: list[Path], rule, root: Path = ROOT) -> list[str]:
    found = []
    for path in files:
        name = str(path.relative_to(root))
        for module, names in imports(path):
            reason = rule(module, names)
            if reason and (name, module) not in ALLOWED:
                found.append(f"{name}: {module} ({reason})")
    return found


def models_rule(module: str, _names: set[str]) -> str | None:
    if any(_is(module, p) for p in ("services", *WEB_LAYER)):
        return "models are the bottom layer"
    return None


def services_rule(module: str, names: set[str]) -> str | None:
    if any(_is(module, p) for p in WEB_LAYER):
        return "the web layer calls services, not the other way"
    if module in ("flask", "flask.globals", "flask.wrappers", "flask.helpers") and names & HTTP_NAMES:
        return f"HTTP in a service: {', '.join(sorted(names & HTTP_NAMES))}"
    if _is(module, "flask_login") or _is(module, "werkzeug.wrappers"):
        return "the logged-in user and responses belong to the web layer"
    if module == "extensions":
        return "a service takes its session as an argument"
    return None


def views_rule(module: str, _names: set[str]) -> str | None:
    return "app.py assembles the views, not the other way" if module == "app" else None


def test_models_import_nothing_of_the_layers_above():
    assert not _violations([ROOT / "models.py"], models_rule)


def test_services_hold_no_http_and_nothing_of_the_web_layer():
    assert not _violations(_files("services"), services_rule)


def test_admin_views_do_not_reach_back_into_the_app():
    assert not _violations(_files("admin_views"), views_rule)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from flask import request\n", "flask (HTTP in a service: request)"),
        ("def f():\n    from flask_login import current_user\n", "flask_login (the logged-in user"),
        ("import auth\n", "auth (the web layer calls services"),
        ("from flask_babel import gettext\n", None),
    ],
)
def test_the_rule_sees_top_level_and_nested_imports(tmp_path, source, expected):
    """The check itself, on a made-up service: a request, a lazy current_user, the web layer, gettext."""
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "x.py").write_text(source, encoding="utf-8")
    found = _violations([tmp_path / "services" / "x.py"], services_rule, root=tmp_path)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].startswith(f"services/x.py: {expected}")


def test_a_fields_label_is_written_once():
    """A register field's Swedish label lives in services/fields.py alone: a view's column labels,
    a form, the Rapportgenerator, the import's mapping and Historik ask it from there. A dict
    entry `"org_number": _l("Org. no.")` anywhere else repeats the registry, and fails here."""
    from services.fields import LABELS

    registered = {name: label._args[0] for name, label in LABELS.items()}
    repeated = []
    # models.py's dicts map stored values to their labels (an activity of kind "note"), not fields
    web_and_services = [ROOT / "app.py", *sorted((ROOT / "admin_views").rglob("*.py"))]
    for path in web_and_services + sorted((ROOT / "services").rglob("*.py")):
        if path == ROOT / "services" / "fields.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Dict):
                continue
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(value, ast.Call)
                    and getattr(value.func, "id", None) in ("_l", "_")
                    and value.args
                    and isinstance(value.args[0], ast.Constant)
                    and registered.get(key.value) == value.args[0].value
                ):
                    repeated.append(f"{path.relative_to(ROOT)}:{node.lineno} {key.value}")
    assert not repeated, repeated


def test_a_page_with_its_own_heading_does_not_repeat_the_view_s_name():
    """crm_base.html heads every page with its view's name (`page_title`); a page with a heading of its own
    empties that block, or the name stood twice above it ("Rapportgenerator" / "Rapportgenerator")."""
    pages = [
        path
        for path in (ROOT / "templates" / "admin").rglob("*.html")
        if (source := path.read_text(encoding="utf-8")).startswith("{% extends 'admin/master.html' %}")
        and "<h1" in source
    ]
    assert pages
    assert [
        str(path.relative_to(ROOT))
        for path in pages
        if "{% block page_title %}" not in path.read_text(encoding="utf-8")
    ] == []
