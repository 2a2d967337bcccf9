"""The ports and the neutral types both sides share: what the engine needs from a CRM and from a signing
provider, the errors it sorts, and the markers it sets on calls (send deadline, background priority)."""
