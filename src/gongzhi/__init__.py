"""gongzhi (共治): a platform for cross-jurisdiction environmental co-governance."""

__version__ = "0.1.0"
