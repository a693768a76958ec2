"""What the data-quality gate says about one portal's batch: which row failed which
row-level expectation, and which batch-level expectations the batch failed. Plain data, no
Great Expectations import, so the pipeline can hold and report verdicts cheaply."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BatchFailure:
    """A batch-level expectation the batch failed, or a row-level one GX could not evaluate."""

    name: str
    expectation: str
    detail: str
    examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.name} [{self.expectation}]: {self.detail}"


@dataclass
class Verdict:
    """What the suites said about one portal's batch."""

    site: str
    rows: int
    row_failures: list[list[str]]
    batch_failures: list[BatchFailure]

    @property
    def ok(self) -> bool:
        return not self.batch_failures

    def failed_expectations(self, row: int) -> list[str]:
        """The names a row is quarantined under: its row-level failures, and every failed
        batch-level expectation when the batch failed."""
        return self.row_failures[row] + [f.name for f in self.batch_failures]

    def passes(self, row: int) -> bool:
        return not self.failed_expectations(row)
