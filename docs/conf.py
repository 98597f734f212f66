"""Sphinx configuration for skanode."""

import skanode

project = "skanode"
author = "skanode developers"
release = skanode.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
autosummary_generate = True
autosummary_generate_overwrite = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {"members": True}
html_theme = "alabaster"
exclude_patterns = ["_build"]
templates_path = ["_templates"]
nitpicky = False


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    # scikit-learn generates set_*_request methods on every estimator class; their
    # docstrings reference sklearn's own glossary, which this site does not have.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
