"""Run directories → ``report/index.html`` with PNG plots, and the ``aha`` / ``inspect`` terminal views.

Reads only the run directory (layout in docs/architecture.md), so it works on a run that is still going or
was killed: a missing or empty file, a torn last line or a metric that was never logged becomes a visible
"no data yet" note in the page instead of an error. Several runs given together are drawn on the same axes,
one colour per run. The page is self-contained HTML (no JavaScript, no CDN); every model text is escaped.

One idea per module: ``runs`` (reading a run directory, curves), ``figures`` (the plots), ``terminal`` (``aha``,
``inspect``), ``html`` (the page). The names below are the package's public surface.
"""

from rl_reasoner.report.figures import FIGURES, FigureSpec, build_figure
from rl_reasoner.report.html import write_report
from rl_reasoner.report.runs import ACCURACY_METRIC, DATA_FILES, Curve, Run, load_run, metric_curve, share_curve
from rl_reasoner.report.terminal import aha_examples, format_aha, format_step

__all__ = ["ACCURACY_METRIC", "DATA_FILES", "FIGURES", "Curve", "FigureSpec", "Run", "aha_examples", "build_figure",
           "format_aha", "format_step", "load_run", "metric_curve", "share_curve", "write_report"]
