"""Analyses over the IR: pure functions returning small frozen dataclasses (MACs, flash bytes, the report)."""

from mcugraph.analysis.costs import NodeCost, macs, node_costs
from mcugraph.analysis.report import SCHEMA_VERSION, OpRow, Report, analyze, format_table

__all__ = ["SCHEMA_VERSION", "NodeCost", "OpRow", "Report", "analyze", "format_table", "macs", "node_costs"]
