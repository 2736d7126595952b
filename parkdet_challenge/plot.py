"""The class-distribution chart of the data-preparation report."""
import io
from typing import Mapping, Sequence


def class_distribution_png(counts: Mapping[str, Mapping[str, int]],
                           classes: Sequence[str], title: str) -> bytes:
    """A PNG bar chart of boxes per class, one bar per series (e.g. train, val).

    ``counts`` maps a series name to ``{class name: boxes}``. The same counts give the
    same bytes (no timestamp in the file). Matplotlib is imported here, not at module
    level: it costs about half a second and only this function needs it.
    """
    # Figure + Agg canvas rather than pyplot: no global backend state, no GUI.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = list(counts)
    fig = Figure(figsize=(9, 1.2 + 0.42 * len(classes)), layout='constrained')
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    height = 0.8 / max(len(series), 1)
    for k, name in enumerate(series):
        values = [counts[name].get(c, 0) for c in classes]
        positions = [i + (k - (len(series) - 1) / 2) * height for i in range(len(classes))]
        bars = ax.barh(positions, values, height=height, label=f'{name} ({sum(values)})')
        ax.bar_label(bars, padding=2, fontsize=7)
    # Class names on the axis, first class at the top, as in the reference's table.
    ax.set_yticks(range(len(classes)), labels=list(classes))
    ax.invert_yaxis()
    ax.set_xlabel('boxes')
    ax.set_title(title)
    ax.margins(x=0.12)
    ax.legend(loc='lower right')
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=100)
    return buf.getvalue()
