"""Reports from run folders: paper tables, an HTML gallery, sweep plots and run-to-run comparison.

`egobench report` turns run folders into LaTeX, Markdown or CSV tables, a gallery folder or a plot.
`egobench compare` checks a run against a baseline and sets the exit code that CI reads.
"""
