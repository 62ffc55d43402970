"""SRAM analysis on a :class:`~mcugraph.kernel_graph.KernelGraph`: kernel view, liveness, peak, order, arena plan.

``kernel_view`` turns an onnx-ir model into the kernels TFLM will run; ``lifetimes`` and ``peak_memory`` give the
live bytes at every step under TFLM's rules; ``schedule_min_peak`` finds the kernel order with the smallest peak;
``plan_arena`` places every tensor at a byte offset (``tflm_greedy_plan`` reproduces what TFLM does on its own).
"""
