# SPDX-License-Identifier: Apache-2.0
"""The parts of bench/run.py: one module per measured figure, plus the
helpers they share (processes, /proc readings, statistics, the machine)."""
