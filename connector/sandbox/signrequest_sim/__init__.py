"""A simulated SignRequest API v1, with signed callbacks and browser signing pages."""

from connector.sandbox.signrequest_sim.signing import ActionRefused
from connector.sandbox.signrequest_sim.simulator import SignRequestSimulator

__all__ = ["ActionRefused", "SignRequestSimulator"]
