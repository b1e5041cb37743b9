"""Diffusion experiments:
``ddpm-toy2d``, ``ddpm-fashion``, ``diffusion-spectrum``, ``d3pm-text``,
``diffusion-text-shapes``.
"""
