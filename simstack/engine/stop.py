"""Why a run ends early."""


class RunStopped(Exception):
    """The run cannot go on: a limit (``max_goroutines``, ``max_events``) was reached."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
