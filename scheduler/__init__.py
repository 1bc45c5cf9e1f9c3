"""The scheduling system. The guide's API is importable from here:

    from scheduler import add_strategy_job, update_strategy_job, remove_strategy_job, get_scheduler

The names load lazily (module `__getattr__`), so importing the package never imports
models before Django's apps are ready.
"""

_API = ("add_strategy_job", "update_strategy_job", "remove_strategy_job", "get_scheduler")

__all__ = list(_API)


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'scheduler' has no attribute {name!r}")
