"""The shared vocabulary at the bottom of vnportals: what a portal is (the registry, its
site configs and the CMS-family templates), where things live under the data dir
(:class:`~kernel.layout.DataLayout`), what an article record is and its columns, the
time zone the portals publish in, and what extraction and validation agree on (furniture
phrases, the legacy font encodings TCVN3 and VNI).

It imports nothing else of ours; ``crawlers``, ``transforms`` and ``expectations`` import
only this, and ``pipeline`` puts them together.
"""
