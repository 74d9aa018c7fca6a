"""Scaling-law fits on plain arrays (numpy/scipy only): approaches 1, 2 and 3 of Hoffmann et al.
(2022), the compute frontier, and the data-constrained law of Muennighoff et al. (2023)."""
