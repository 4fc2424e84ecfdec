"""``diffbgm studio``: a local web page for scoring a video (FastAPI and a page of its own, no CDN).

The server (:func:`create_app`) keeps one folder per browser session under its work folder, runs one
job (analysis, scoring, regeneration) at a time through the same
:class:`~diffbgm.pipeline.scoring.ScoringPipeline` the command line uses, and serves only the files of
the asking session.
"""

from diffbgm.studio.app import DEFAULT_MAX_UPLOAD_BYTES, create_app

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "create_app"]
