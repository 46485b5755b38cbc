"""Engines the night can run on besides DuckDB (docs/spark.md)."""
