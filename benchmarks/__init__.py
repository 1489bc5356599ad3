"""Benchmarks for aiostscreds, side by side with aiobotocore and with the floors.

Run them all with ``python -m benchmarks`` (or ``python -m benchmarks --quick``)
from the repository root. One process run takes every measurement and writes
``benchmarks/results/latest.json``, ``docs/benchmarks.md`` and the plots in
``docs/img/``.

Modules:
    contenders: the fake STS, the counted MFA token provider, and each contender.
    scenarios: hot path, success storm, failure storm and cancellation storm.
    end_to_end: aiobotocore clients against moto's server on 127.0.0.1.
    moto_server: that server, in a child process.
    report: the targets, the Markdown report and the plots.

``python -m benchmarks --report-only`` redraws the report and the plots from
the last run's JSON without measuring anything.
"""
