"""Sphinx configuration of the ctcc documentation.

Build: ``python -m sphinx -W --keep-going -b html docs build/docs``
(``pip install -r docs/requirements.txt`` first; the package itself must be
importable, and TensorFlow for the pages of ``ctcc.tensorflow`` and
``ctcc.keras``).
"""

import ctcc

project = "ctcc"
author = "the ctcc authors"
copyright = "the ctcc authors"
version = release = ctcc.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "requirements.txt"]

# MyST: GitHub-style tables and fenced code as in the README; anchors for
# the headings of level 1 to 3, so pages can link to sections.
myst_heading_anchors = 3

# API reference from the docstrings (numpydoc format).
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# Code blocks are shown as written; "text" blocks hold signature listings.
highlight_language = "none"

html_theme = "alabaster"
html_static_path = []
html_title = f"ctcc {release}"
