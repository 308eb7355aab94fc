//! Tests of the sorted-set commands through the command harness.
