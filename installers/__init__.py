"""`make dist`: OneTrip's release archive (its wheel and every dependency's, with an offline installer) and a
Debian package built from it. A build tool beside the program, not part of it: nothing here is installed."""


class BuildError(Exception):
    """A release could not be built: a wheel that would not build or download, a tool that failed."""
