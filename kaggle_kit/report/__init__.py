"""The per-run HTML report: config, learning curves, ROC, confusion matrix, calibration, review gallery.

>>> from kaggle_kit.report import write_report
>>> write_report(run, workspace)            # → runs/<slug>/<run-id>/report.html
"""

from kaggle_kit.report.writer import find_run_folder, try_write_report, write_report

__all__ = ["find_run_folder", "try_write_report", "write_report"]
