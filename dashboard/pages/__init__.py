"""The dashboard's pages. Each page module (dashboard/pages/<id>.py) declares itself once, beside its
code, as `PAGE = Page(id=..., roles=..., title_key=..., icon=..., url=...)`; ORDER lists the pages in
the navigation's order. The access rules (dashboard/access.py) and the navigation (dashboard/app.py)
both read DECLARED.

A page module is a Streamlit script: running it draws the page (and stops a visitor it is not for).
So the declarations are read from the modules' source here, not imported, and each argument of
`Page(...)` must be a literal.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from dashboard.users import ROLES

HERE = Path(__file__).resolve().parent

# The navigation's order. A module in this folder that is not listed here is no page: nobody may
# open it (deny by default).
ORDER = ("overview", "agency", "system", "loadtests", "compliance", "data", "reports")


@dataclass(frozen=True)
class Page:
    id: str                     # the module's name
    roles: tuple[str, ...]      # who may open it; every other role is refused
    title_key: str              # its name in the navigation: a key of dashboard/i18n.py TEXT
    icon: str                   # ":material/<name>:", drawn from Streamlit's bundled font
    url: str                    # its address under the dashboard's root

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", tuple(self.roles))

    @property
    def file(self) -> str:
        """The page's script as st.Page takes it: relative to dashboard/app.py."""
        return f"pages/{self.id}.py"


def declaration(path: Path) -> Page:
    """The top-level `PAGE = Page(...)` of a page module, read without running the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["PAGE"]):
            continue
        call = node.value
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Page") or call.args:
            raise ValueError(f"{path.name}: write the declaration as PAGE = Page(id=..., roles=..., ...)")
        try:
            return Page(**{k.arg: ast.literal_eval(k.value) for k in call.keywords})
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path.name}: the page's declaration takes its five fields, as literals ({e})") from e
    raise ValueError(f"{path.name} declares no PAGE = Page(...)")


def _declared() -> tuple[Page, ...]:
    pages = tuple(declaration(HERE / f"{name}.py") for name in ORDER)
    for name, page in zip(ORDER, pages):
        if page.id != name:
            raise ValueError(f"{name}.py declares the page {page.id!r}: a page's id is its module's name")
        unknown = sorted(set(page.roles) - set(ROLES))
        if unknown:
            raise ValueError(f"{name}.py names unknown roles {unknown}; the roles are {list(ROLES)}")
    urls = [p.url for p in pages]
    if len(set(urls)) != len(urls):
        raise ValueError(f"two pages share an address: {urls}")
    return pages


DECLARED = _declared()
