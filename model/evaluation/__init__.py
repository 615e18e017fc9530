"""What only evaluates and reports: `python -m model.evaluation.evaluate`, its metrics and charts.

The web app never imports this package: it reads the report's files through
`model.report_files`.
"""
