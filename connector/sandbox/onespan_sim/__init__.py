"""A simulated OneSpan Sign account: packages, SMS authentication, callbacks and signing pages."""

from connector.sandbox.onespan_sim.simulator import ActionRefused, OneSpanSimulator

__all__ = ["ActionRefused", "OneSpanSimulator"]
