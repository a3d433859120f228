"""Looking at what an agent did: HTML reports and GIFs of results files, and a local demo app.

- :func:`vrag_env.viewer.report.write_report`: ``vrag view RESULTS.json --out report.html``.
- :func:`vrag_env.viewer.report.write_benchmark_reports`: one report per results file of a benchmark.
- :func:`vrag_env.viewer.gif.write_gif`: ``vrag view RESULTS.json --episode ID --gif out.gif``.
- :mod:`vrag_env.viewer.demo`: ``vrag demo``, play an episode by hand or watch an agent, in a browser.

Images are never stored in results files; they are re-rendered from the corpus with the env's own
view functions (:mod:`vrag_env.rendering`).
"""
