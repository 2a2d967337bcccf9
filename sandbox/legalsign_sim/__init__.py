"""A simulated Legalesign API v1 with realtime callbacks and signing pages."""

from sandbox.legalsign_sim.simulator import ActionRefused, LegalsignSimulator

__all__ = ["ActionRefused", "LegalsignSimulator"]
