"""Export to TFLite for TFLite Micro: ``export_tflite(model, activations=...)`` (see ``mcugraph.export.writer``)."""

from mcugraph.export.quant_params import QuantParam, param_from_range
from mcugraph.export.writer import ExportResult, export_tflite

__all__ = ["ExportResult", "QuantParam", "export_tflite", "param_from_range"]
