"""Channel pruning: PyTorch interpreter, channel groups, slicing, gates, resource model, prune-while-training.

The package itself is callable: ``mcugraph.prune(model, data=..., ram="48KiB")`` runs
:func:`mcugraph.prune.api.prune` (a package and a function cannot otherwise share the name ``mcugraph.prune``).
"""

from __future__ import annotations

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from mcugraph.prune.api import prune

        return prune(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
