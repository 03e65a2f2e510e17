"""The kit's one exception type."""

from __future__ import annotations


class ElasticError(Exception):
    """A failure the operator can act on (unreachable, 401, 403, a missing file...).

    Its message is the whole story: the commands print it as it is.
    """
