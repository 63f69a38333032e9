"""Hardware models: latency, energy, flash and SRAM of a network on real chips."""

from objectives.hardware.stats import GraphStats, LayerKind, LayerStats

__all__ = ["GraphStats", "LayerKind", "LayerStats"]
