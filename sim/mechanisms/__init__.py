"""The world's mechanisms: small, mostly pure functions over lockstep arrays ``(R, ...)``."""
