"""Errors the engine sorts by what happens next."""


class PreparationError(Exception):
    """Bad input on the opportunity (file, signer, mapping): written back, never retried
    until the opportunity enters the stage again."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
