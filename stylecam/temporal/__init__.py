"""Flicker: optical flow, the per-frame cures (smoothing) and the warping-error metric (flicker)."""
