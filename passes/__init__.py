"""mcugraph's onnx-ir passes, one per module; each registers itself by name (see ``mcugraph.registry``).

Modules here are discovered automatically: adding a file with a ``@register``-ed pass class is all it takes.
"""
