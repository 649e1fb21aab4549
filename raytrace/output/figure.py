"""The Figure the plots return: matplotlib's, which also shows itself in a Jupyter notebook without
`%matplotlib inline` (the plots create figures without pyplot, so no backend is chosen and none is needed)."""

from io import BytesIO

from matplotlib.figure import Figure


class NotebookFigure(Figure):
    """A matplotlib Figure with a PNG representation for IPython's display (`_repr_png_`)."""

    def _repr_png_(self) -> bytes:
        buffer = BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()
