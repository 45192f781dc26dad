"""hamgam's development tooling, beside the runtime package (nothing of it ships in the image).

``hamgam_dev.chaos``: the chaos suite (``make chaos``).
"""
