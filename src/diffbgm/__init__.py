"""diffbgm: background music for a video with a piano-roll diffusion model (after Diff-BGM, CVPR 2024)."""

__version__ = "0.1.0"
