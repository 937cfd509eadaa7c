"""Every public callable of ctcc and of its adapters (ctcc.tensorflow,
ctcc.keras, ctcc.torch, ctcc.jax) documents itself in numpydoc format, so
that help() shows the full reference and the API reference can be
generated from the docstrings:

- a summary line, then the sections numpydoc knows, each underlined;
- "Parameters" lists every parameter of the signature, in order, each as a
  "name : type" line followed by an indented description;
- "Returns" for every function that returns a value, "Raises" for every
  function that checks arguments, and "Examples";
- the examples run (doctest) and print what they show.
"""

from __future__ import annotations

import doctest
import inspect
import pydoc
import re

import pytest

ctcc = pytest.importorskip("ctcc")

SECTIONS = [
    "Parameters",
    "Attributes",
    "Returns",
    "Yields",
    "Raises",
    "Warns",
    "See Also",
    "Notes",
    "References",
    "Examples",
]


def _public(module_name):
    try:
        module = __import__(module_name, fromlist=["__all__"])
    except ImportError as e:  # the adapters need TensorFlow, Keras, PyTorch, JAX
        pytest.skip(f"{module_name}: {e}")
    return [(f"{module_name}.{name}", getattr(module, name)) for name in module.__all__]


def _all_public():
    out = []
    for module in ("ctcc", "ctcc.tensorflow", "ctcc.keras", "ctcc.torch", "ctcc.jax"):
        try:
            out += [
                pytest.param(module, name, id=f"{module}.{name.rsplit('.', 1)[1]}")
                for name, obj in _public(module)
                if callable(obj)
            ]
        except pytest.skip.Exception:
            continue
    return out


def _object(module, qualname):
    return dict(_public(module))[qualname]


def _sections(doc):
    """{section name: its lines}, and the summary lines before the first."""
    lines = doc.splitlines()
    found = {}
    current, body = "summary", []
    i = 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", following.strip()):
            assert line.strip() in SECTIONS, f"unknown section {line.strip()!r}"
            assert len(following.strip()) == len(line.strip()), f"underline of {line!r}"
            assert line.strip() not in found, f"section {line.strip()!r} twice"
            found[current] = body
            current, body = line.strip(), []
            i += 2
            continue
        body.append(line)
        i += 1
    found[current] = body
    order = [s for s in SECTIONS if s in found]
    assert [s for s in found if s != "summary"] == order, f"sections out of order: {list(found)}"
    return found


def _entries(lines, returns=False):
    """[(names, type)] of a Parameters-like section: lines at indent 0 of
    the form "name : type" (or a bare "name"; in Returns, a bare type),
    each followed by an indented description."""
    entries = []
    for i, line in enumerate(lines):
        if not line.strip() or line.startswith(" "):
            continue
        if returns and " : " not in line:
            assert i + 1 < len(lines) and lines[i + 1].startswith("    "), line
            entries.append(([], line.strip()))
            continue
        m = re.fullmatch(r"(\*{0,2}[A-Za-z_][\w, *]*?)(?: : (.+))?", line.rstrip())
        assert m, f"not a 'name : type' line: {line!r}"
        names = [n.strip() for n in m.group(1).split(",")]
        described = i + 1 < len(lines) and lines[i + 1].startswith("    ")
        assert described, f"{line!r} has no indented description"
        entries.append((names, m.group(2)))
    return entries


def _signature(obj):
    target = obj
    if inspect.isclass(obj):
        target = obj.__init__ if "__init__" in vars(obj) else obj
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        sig = inspect.signature(obj)
    return [p for p in sig.parameters.values() if p.name not in ("self", "cls")]


def _returns_value(obj):
    if inspect.isclass(obj):
        return False
    ann = inspect.signature(obj).return_annotation
    return ann not in (None, "None", inspect.Signature.empty)


@pytest.mark.parametrize("module, qualname", _all_public())
def test_docstring_documents_every_parameter(module, qualname):
    obj = _object(module, qualname)
    doc = inspect.getdoc(obj)
    assert doc, f"{qualname} has no docstring"
    sections = _sections(doc)
    summary = [line for line in sections["summary"] if line.strip()]
    assert summary and len(summary[0]) <= 100, f"{qualname}: no one-line summary"
    assert "README" not in doc, f"{qualname}: points to the README instead of documenting"

    params = _signature(obj)
    if params:
        assert "Parameters" in sections, f"{qualname}: no Parameters section"
        entries = _entries(sections["Parameters"])
        documented = [n for names, _ in entries for n in names]
        wanted = [
            ("*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else "")
            + p.name
            for p in params
        ]
        assert documented == wanted, f"{qualname}: documents {documented}, signature {wanted}"
        for names, kind in entries:
            assert kind, f"{qualname}: {names} has no type"
    if _returns_value(obj):
        assert "Returns" in sections, f"{qualname}: no Returns section"
        assert _entries(sections["Returns"], True), f"{qualname}: empty Returns section"
    if params and not inspect.isclass(obj) or qualname.endswith("CTCLoss"):
        assert "Raises" in sections, f"{qualname}: no Raises section"
    assert "Examples" in sections, f"{qualname}: no Examples section"
    assert any(line.startswith(">>> ") for line in sections["Examples"]), qualname


@pytest.mark.parametrize("module, qualname", _all_public())
def test_help_shows_the_parameters(module, qualname):
    obj = _object(module, qualname)
    text = pydoc.render_doc(obj, renderer=pydoc.plaintext)
    assert "Parameters\n" in text or not _signature(obj)
    for p in _signature(obj):
        assert re.search(rf"^[\s|]*{re.escape(p.name)} : ", text, re.M), (qualname, p.name)


@pytest.mark.parametrize("module, qualname", _all_public())
def test_examples_run(module, qualname):
    obj = _object(module, qualname)
    doc = inspect.getdoc(obj)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(doc, {"__name__": "__doc__"}, qualname, None, 0)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)
    assert runner.tries > 0


@pytest.mark.parametrize("module, qualname", _all_public())
def test_numpydoc_parses_and_validates(module, qualname):
    """numpydoc's own parser and validator (when installed), on the checks
    that concern the documented parameters and sections."""
    pytest.importorskip("numpydoc")
    from numpydoc.docscrape import NumpyDocString
    from numpydoc.validate import validate

    obj = _object(module, qualname)
    NumpyDocString(inspect.getdoc(obj))  # raises on malformed sections
    target = f"{obj.__module__}.{obj.__qualname__}"
    errors = [
        (code, message)
        for code, message in validate(target)["errors"]
        if code in ("GL01", "GL02", "GL03", "GL05", "GL06", "GL07", "GL08")
        or code.startswith("PR")
        and code not in ("PR09",)
        or code in ("RT01", "RT03", "EX01", "SS01", "SS03")
    ]
    assert not errors, errors
