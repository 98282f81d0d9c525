"""Prometheus metrics for /metrics (prometheus_client), one registry per app.

Answers are counted as the router records them (``Metrics.observe``, every platform); votes,
hand-offs, refresh and training runs are the database's totals, read at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from knowledge.types import Answer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Totals(Collector):
    def __init__(self, totals: Callable[[], dict[str, dict[str, int]]]) -> None:
        self.totals = totals

    def collect(self) -> Iterator[CounterMetricFamily]:
        found = self.totals()
        for name, label, doc in (
                ("feedback", "score", "Feedback votes by score"),
                ("refresh_runs", "status", "Knowledge refresh runs by status"),
                ("training_runs", "status", "Adapter training runs by status"),
                ("handoffs", "kind", "Requests for a person"),
                ("questions", "platform", "Questions stored, by platform")):
            family = CounterMetricFamily(f"supportbot_{name}", doc, labels=[label])
            for key, count in sorted(found.get(name, {}).items()):
                family.add_metric([key], count)
            yield family


class Metrics:
    def __init__(self, totals: Callable[[], dict[str, dict[str, int]]],
                 queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.answers = Counter("supportbot_answers", "Answers recorded, by platform and outcome",
                               ["platform", "outcome"], registry=self.registry)
        self.latency = Histogram("supportbot_answer_latency_seconds", "Time to answer",
                                 ["platform"], registry=self.registry,
                                 buckets=(0.25, 0.5, 1, 2, 4, 8, 16, 32, 64))
        depth = Gauge("supportbot_queue_depth", "Answers in flight or waiting",
                      registry=self.registry)
        depth.set_function(lambda: float(queue_depth()))
        self.registry.register(_Totals(totals))

    def observe(self, platform: str, answer: Answer) -> None:
        """Count one recorded answer (the router calls this for every platform)."""
        outcome = ("blocked" if answer.security else "declined" if answer.declined
                   else "answered")
        self.answers.labels(platform, outcome).inc()
        self.latency.labels(platform).observe(answer.latency_ms / 1000)

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """This process's answers (by platform and outcome) and latency (count, sum)."""
        answers: dict[str, dict[str, float]] = {}
        for sample in next(iter(self.answers.collect())).samples:
            if sample.name.endswith("_total"):
                platform, outcome = sample.labels["platform"], sample.labels["outcome"]
                answers.setdefault(platform, {})[outcome] = sample.value
        latency: dict[str, dict[str, float]] = {}
        for sample in next(iter(self.latency.collect())).samples:
            kind = sample.name.rsplit("_", 1)[-1]
            if kind in ("count", "sum"):
                latency.setdefault(sample.labels["platform"], {})[kind] = sample.value
        return {"answers": answers, "latency_seconds": latency}

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
