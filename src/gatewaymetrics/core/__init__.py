"""The pure core: records, parsing, budget rules, the metric catalog, label rendering.

Nothing here reads a clock or the environment, does I/O, keeps global state or
mutates its input. It depends on ``attrs`` and the standard library only.
"""
