"""Video analysis: decoding (:mod:`.decode`), shots (:mod:`.shots`), dynamic features (:mod:`.dynamics`),
image semantics, captions and mood, all gathered by :func:`diffbgm.video.analysis.analyze_video`.

Submodules are imported on use, so that importing one does not load OpenCV, PySceneDetect and torch.
"""
