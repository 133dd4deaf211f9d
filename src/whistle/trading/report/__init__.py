"""Reports of a finished backtest: the summary figures, a terminal table, HTML and PNG charts.

Layer 7 (``whistle.trading``): imports ``whistle.core`` and its own package, reads the
backtest's result through the protocols of ``stats`` (attributes only). matplotlib is
imported only when charts are drawn (``write_report`` / ``charts.render_charts``).
"""

from whistle.trading.report.html import INDEX, ReportError, write_report
from whistle.trading.report.stats import Summary, summarize
from whistle.trading.report.table import print_summary, summary_rows, summary_table

__all__ = [
    "INDEX",
    "ReportError",
    "Summary",
    "print_summary",
    "summarize",
    "summary_rows",
    "summary_table",
    "write_report",
]
