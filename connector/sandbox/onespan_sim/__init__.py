"""A simulated OneSpan Sign account: packages, SMS authentication, callbacks and signing pages."""

from connector.sandbox.onespan_sim.signing import ActionRefused
from connector.sandbox.onespan_sim.simulator import OneSpanSimulator

__all__ = ["ActionRefused", "OneSpanSimulator"]
