"""The shared vocabulary at the bottom of vnportals: what a portal is (the registry, its
site configs and the CMS-family templates), where things live under the data dir
(:class:`~kernel.layout.DataLayout`), what an article record is and its columns, and the
time zone the portals publish in.

It imports nothing else of ours; ``crawlers``, ``transforms`` and ``expectations`` import
only this, and ``pipeline`` puts them together.
"""
