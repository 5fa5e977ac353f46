"""The project's exception base.

Every error caused by what a user gave (a file, an option, a value) derives from
:class:`PixelpadError`, so the CLI can print it as one plain line instead of a traceback. Each
stage defines its own subclasses next to the code that raises them.
"""


class PixelpadError(Exception):
    """An error in the user's input or environment, with a message that says what to do."""
