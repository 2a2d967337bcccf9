"""A simulated SignRequest API v1, with signed callbacks and browser signing pages."""

from sandbox.signrequest_sim.signing import ActionRefused
from sandbox.signrequest_sim.simulator import SignRequestSimulator

__all__ = ["ActionRefused", "SignRequestSimulator"]
