"""A simulated OneSpan Sign account: packages, SMS authentication, callbacks and signing pages."""

from sandbox.onespan_sim.signing import ActionRefused
from sandbox.onespan_sim.simulator import OneSpanSimulator

__all__ = ["ActionRefused", "OneSpanSimulator"]
