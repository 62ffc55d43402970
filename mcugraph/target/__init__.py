"""Microcontroller targets: the deployment bundle, the TFLM build for a core and kernel set, and runs under QEMU.

``bundle`` writes a model as C (the model array, the arena it needs, an op resolver with exactly its operators,
a ``main.cc``); ``build`` compiles TFLM for a target from the user's TFLM tree (cached per revision, target,
kernel set and flags; only the operators a model uses are compiled) and links a bundle; ``qemu`` runs the
firmware on an emulated board; ``bench`` puts them together and reports what the chip did. The exporter never
imports this package; analyses read its measurements only as data (a bench JSON).
"""
