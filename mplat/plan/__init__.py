"""The plan as a value: what must change (``model``), why (``compare``, ``wording``), how it is
written down (``json_codec``, ``file_codec``, ``wire``, ``planfile``) and how applying went
(``outcome``). Imports ``mplat.values`` only (``planfile`` also ``mplat.files``), so a plan can
be printed, saved and loaded with no network code around.
"""
