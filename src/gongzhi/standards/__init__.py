"""The unified standards engine (统一标准): pure functions over arrays.

Each module is one standard (or one evaluation rule set), its constants in one
documented table per edition, each citing its clause and confidence mark:

- :mod:`~gongzhi.standards.gb3838` — GB 3838-2002 surface water classes and the
  环办〔2011〕22号 evaluation rules
- :mod:`~gongzhi.standards.cwqi` — city water quality index (环办监测〔2017〕51号)
- :mod:`~gongzhi.standards.tli` — comprehensive trophic level index TLI(Σ)
- :mod:`~gongzhi.standards.bloom` — cyanobacteria bloom grades (HJ 1098-2020)
- :mod:`~gongzhi.standards.hj633` — AQI (HJ 633-2012, HJ 633-2026)
- :mod:`~gongzhi.standards.gb3095` — ambient air limits (GB 3095-2012, GB 3095-2026)
- :mod:`~gongzhi.standards.hj663` — ambient air evaluation, validity and statistics (HJ 663-2013)
- :mod:`~gongzhi.standards.composite` — city air composite index and ranking
- :mod:`~gongzhi.standards.versions` — editions and effective dates

No module here imports Django or any platform app (checked by import-linter).
"""
