"""Benchmark specs, the evaluation runner, leaderboard generation and performance benchmarks."""
