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
exclude_patterns = ["_build", "reproduction/*/summary_table.rst"]
templates_path = ["_templates"]
nitpicky = False


def _skip_metadata_request_methods(app, what, name, obj, skip, options):
    # scikit-learn generates set_*_request methods on every estimator class; their
    # docstrings reference sklearn's own glossary, which this site does not have.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def _markdown_tables_to_rst(app):
    """Turn the tables of each results folder's summary.md into summary_table.rst.

    The reproduction page includes these, so its numbers are always those of the
    committed result files.
    """
    from pathlib import Path

    for summary in Path(app.srcdir, "reproduction").glob("*/summary.md"):
        rows = [line.strip().strip("|").split("|") for line in summary.read_text().splitlines()
                if line.startswith("|")]
        rows = [row for row in rows if not set("".join(row)) <= set("-: ")]
        out = [".. list-table::", "   :header-rows: 1", ""]
        for row in rows:
            cells = [cell.strip() or "--" for cell in row]
            out.append(f"   * - {cells[0]}")
            out.extend(f"     - {cell}" for cell in cells[1:])
        target = summary.with_name("summary_table.rst")
        text = "\n".join(out) + "\n"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_request_methods)
    app.connect("builder-inited", _markdown_tables_to_rst)
